"""The words the catalogue benchmark's seed builds dataset names and descriptions from
(bench/catalog_statements.py picks from them at random, in SQL)."""

# (language name, locale, weight): weights make a realistic skew (English dominates).
LANGUAGES = [
    ("English", "en", 14),
    ("German", "de", 5),
    ("French", "fr", 5),
    ("Spanish", "es", 5),
    ("Italian", "it", 3),
    ("Portuguese", "pt", 3),
    ("Dutch", "nl", 2),
    ("Polish", "pl", 2),
    ("Russian", "ru", 2),
    ("Ukrainian", "uk", 2),
    ("Turkish", "tr", 2),
    ("Arabic", "ar", 3),
    ("Hindi", "hi", 3),
    ("Bengali", "bn", 2),
    ("Urdu", "ur", 2),
    ("Tamil", "ta", 2),
    ("Chinese", "zh", 3),
    ("Japanese", "ja", 3),
    ("Korean", "ko", 2),
    ("Vietnamese", "vi", 2),
    ("Thai", "th", 1),
    ("Indonesian", "id", 2),
    ("Swahili", "sw", 2),
    ("Yoruba", "yo", 1),
    ("Hausa", "ha", 1),
    ("Igbo", "ig", 1),
    ("Amharic", "am", 1),
    ("Kinyarwanda", "rw", 1),
    ("Zulu", "zu", 1),
    ("Welsh", "cy", 1),
    ("Irish", "ga", 1),
    ("Basque", "eu", 1),
    ("Catalan", "ca", 1),
    ("Galician", "gl", 1),
    ("Breton", "br", 1),
    ("Finnish", "fi", 1),
    ("Estonian", "et", 1),
    ("Hungarian", "hu", 1),
    ("Greek", "el", 1),
    ("Czech", "cs", 1),
    ("Romanian", "ro", 1),
    ("Persian", "fa", 2),
    ("Hebrew", "he", 1),
    ("Georgian", "ka", 1),
    ("Quechua", "qu", 1),
    ("Guarani", "gn", 1),
    ("Maori", "mi", 1),
    ("Tagalog", "tl", 1),
]
QUALIFIERS = (
    "Conversational Read Spontaneous Broadcast Medical Legal Children's Accented Noisy Studio "
    "Telephone Regional Multi-speaker Parliamentary Historical Crowdsourced Annotated Curated "
    "Open Community Elderly Whispered Emotional Far-field In-car Classroom Interview Scripted "
    "Wake-word Code-switched Dialectal Bilingual Synthetic Podcast Street"
).split()
DOMAINS = (
    "Speech;News;Dialogue;Podcasts;Audiobooks;Customer Support;Weather Reports;Sports "
    "Commentary;Finance;Agriculture;Healthcare;Education;Travel;Cooking;Radio;Call Center;"
    "Voice Commands;Lectures;Sermons;Folk Tales;Court Hearings;Meetings;Interviews;Subtitles;"
    "Song Lyrics;Product Reviews;Wikipedia;Forum Posts;Chat Logs;Emails;Recipes;Poetry;Names;"
    "Numbers;Addresses;Place Names;Questions;Instructions;Debates;Town Halls"
).split(";")
KINDS = "Corpus Dataset Collection Recordings Transcripts Benchmark Archive Set Bank Sample".split()
SOURCES = (
    "community volunteers;a public broadcaster;university students;professional voice actors;"
    "field recordings in rural villages;call-centre agents;open web pages;local radio stations;"
    "parliament sessions;podcast hosts;schoolteachers;hospital staff;farmers' cooperatives"
).split(";")
FILLER = (
    "audio transcription speaker microphone recording session utterance sentence prompt dialect "
    "accent noise quality validated reviewed segment hours minutes speakers gender age region "
    "consent licence metadata annotation label intent entity alignment timestamp phoneme lexicon "
    "vocabulary pronunciation tone pitch emotion silence overlap channel stereo mono sample rate "
    "bitrate codec compressed lossless waveform spectrogram baseline model evaluation split train "
    "test development benchmark leaderboard accuracy error rate word character token tokenizer "
    "normalised punctuation casing numerals abbreviations code-switching loanwords orthography "
    "script transliteration romanised native literacy rural urban coastal mountain island market "
    "school clinic church mosque temple radio television newspaper magazine novel poem proverb "
    "story song lullaby riddle greeting farewell weather harvest fishing trading cooking football "
    "election budget vaccine malaria drought flood earthquake festival wedding funeral ceremony "
    "tradition heritage archive museum library collection catalogue index manifest checksum "
    "volunteer contributor community cooperative university laboratory startup nonprofit "
    "foundation ministry council hospital court parliament municipality village district "
    "province capital border diaspora migrant refugee student teacher nurse doctor farmer fisher "
    "driver merchant elder child youth adult senior female male nonbinary anonymous pseudonymous "
    "redacted filtered deduplicated balanced stratified diverse representative sparse dense "
    "clean noisy reverberant far-field near-field telephone narrowband wideband studio outdoor "
    "indoor vehicle kitchen office classroom street stadium"
).split()
TASKS = ["ASR"] * 30 + ["TTS"] * 10 + ["NLP"] * 12 + ["MT"] * 8 + ["LLM"] * 8 + ["LID"] * 4
TASKS += ["LM", "NLU", "NLG", "CALL", "RAG", "CV", "ML", "OTH", "N/A", "LM", "NLU", "RAG"]
LICENSES = ["CC-BY-4.0"] * 10 + ["CC0-1.0"] * 6 + ["CC-BY-SA-4.0"] * 5 + ["CC-BY-NC-4.0"] * 4
LICENSES += ["Apache-2.0", "MIT", "ODbL-1.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "MPL-2.0"]
LICENSES += ["GPL-3.0", "Unlicense", "ODC-By-1.0", "EUPL-1.2", "OGL-UK-3.0", "NLOD-2.0"]
FORMATS = ["TSV"] * 6 + ["CSV"] * 5 + ["WAV"] * 6 + ["MP3"] * 4 + ["FLAC"] * 3 + ["JSONL"] * 4
FORMATS += ["Parquet", "Parquet", "TXT", "TXT", "OPUS", "OGG", "XML", "JSON"]
ORG_WORDS = (
    "Open Voice Lingua Polyglot Babel Echo Signal Horizon Delta Baobab Kora Meridian Atlas "
    "Aurora Harbor Summit River Cedar Granite Lumen Nova Orbit Prism Quill Sable Tundra Vertex"
).split()
ORG_SUFFIXES = (
    "Labs;Institute;Foundation;Collective;Data;AI;Research;University;Initiative;Co-op".split(";")
)
