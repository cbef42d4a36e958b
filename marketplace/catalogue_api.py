"""MDC API views: catalogue (E1–E3), submissions (E7–E10) and uploads (U1–U4, S1–S4).
Thin: parse with a serializer, call one service or selector, render the contract's shape."""

import dataclasses

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import catalogue_serializers as wire
from marketplace.catalogue_cache import catalogue_cached
from marketplace.croissant import croissant_document
from marketplace.models import CheckRun, FileUpload
from marketplace.pagination import page_schema
from marketplace.selectors import catalogue_filters, catalogue_search, dataset_lookup
from marketplace.services import submissions as submission_services
from marketplace.services import uploads as upload_services

ANY_OBJECT = OpenApiTypes.OBJECT


class DatasetListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[wire.CatalogueQuerySerializer],
        responses=page_schema("DatasetPage"),
        summary="E1: search the public catalogue",
        operation_id="datasets_list",
    )
    def get(self, request):
        params = wire.CatalogueQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = wire.catalogue_query(params.validated_data)

        def build():
            return catalogue_search(query).body(wire.dataset_card)

        body = catalogue_cached("list", dataclasses.asdict(query), build)
        return HttpResponse(body, content_type="application/json")


class DatasetFiltersApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses=wire.DatasetFiltersSerializer, summary="E2: filter values in the catalogue"
    )
    def get(self, request):
        body = catalogue_cached("filters", {}, catalogue_filters)
        return HttpResponse(body, content_type="application/json")


class DatasetDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses=ANY_OBJECT,
        summary="E3: a dataset card, by id or slug",
        operation_id="datasets_detail",
    )
    def get(self, request, id_or_slug: str):
        organization = request.auth.organization if request.auth is not None else None
        dataset = dataset_lookup(id_or_slug=id_or_slug, organization=organization)
        return Response(wire.dataset_card(dataset))


class SubmissionListApi(APIView):
    @extend_schema(
        request=wire.SubmissionCreateSerializer,
        responses={201: ANY_OBJECT},
        summary="E7: create a draft submission",
        operation_id="submissions_create",
    )
    def post(self, request):
        body = wire.SubmissionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submission = submission_services.submission_create(
            actor=request.auth, name=body.validated_data["name"]
        )
        return Response(
            {"submission": wire.submission_wire(submission)}, status=status.HTTP_201_CREATED
        )


class SubmissionDetailApi(APIView):
    @extend_schema(
        responses=ANY_OBJECT, summary="A submission of your organisation (with review note)"
    )
    def get(self, request, submission_id: str):
        submission_services.upload_rights_require(actor=request.auth)
        submission = submission_services.submission_get_for_org(
            organization=request.auth.organization, submission_id=submission_id
        )
        return Response({"submission": wire.submission_wire(submission)})

    @extend_schema(
        request=wire.SubmissionUpdateSerializer,
        responses=ANY_OBJECT,
        summary="E8: update the datasheet (partial)",
        operation_id="submissions_update",
    )
    def patch(self, request, submission_id: str):
        body = wire.SubmissionUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submission = submission_services.submission_update(
            actor=request.auth, submission_id=submission_id, data=body.to_model_fields()
        )
        return Response({"submission": wire.submission_wire(submission)})

    @extend_schema(
        request=wire.SubmissionSubmitSerializer,
        responses=ANY_OBJECT,
        summary="E9: submit for review",
        operation_id="submissions_submit",
    )
    def post(self, request, submission_id: str):
        body = wire.SubmissionSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submission = submission_services.submission_submit(
            actor=request.auth,
            submission_id=submission_id,
            agree=body.validated_data["agreeToSubmit"],
        )
        return Response({"submission": wire.submission_wire(submission)})

    @extend_schema(responses={204: None}, summary="E10: delete an unpublished submission")
    def delete(self, request, submission_id: str):
        submission_services.submission_delete(actor=request.auth, submission_id=submission_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- uploads: one protocol, two bases (/uploads and /submissions/{sid}/sample) --------------


class _UploadStart(APIView):
    kind = FileUpload.Kind.DATASET

    def _start(self, request, submission_id: str | None):
        body = wire.UploadStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        sid = submission_id or v.get("submissionId")
        if not sid:
            raise serializers.ValidationError({"submissionId": ["This field is required."]})
        upload = upload_services.file_upload_start(
            actor=request.auth,
            submission_id=sid,
            kind=self.kind,
            filename=v["filename"],
            file_size=v["fileSize"],
            mime_type=v["mimeType"],
        )
        return Response(wire.upload_wire(upload), status=status.HTTP_201_CREATED)


class UploadStartApi(_UploadStart):
    @extend_schema(
        request=wire.UploadStartSerializer,
        responses={201: ANY_OBJECT},
        summary="U1: start a multipart upload of the dataset archive",
        operation_id="uploads_start",
    )
    def post(self, request):
        return self._start(request, None)


class SampleUploadStartApi(_UploadStart):
    kind = FileUpload.Kind.SAMPLE

    @extend_schema(
        request=wire.UploadStartSerializer,
        responses={201: ANY_OBJECT},
        summary="S1: start a multipart upload of the sample archive",
        operation_id="sample_uploads_start",
    )
    def post(self, request, submission_id: str):
        return self._start(request, submission_id)


PART_URL = inline_serializer("PartUrl", {"url": serializers.URLField()})


class UploadPartApi(APIView):
    kind = FileUpload.Kind.DATASET

    @extend_schema(
        responses=PART_URL,
        summary="U2: a presigned URL for one part",
        operation_id="uploads_part",
        parameters=[
            OpenApiParameter("part_number", int, OpenApiParameter.PATH),
            wire.PartUrlQuerySerializer,
        ],
    )
    def get(self, request, upload_id: str, part_number: int, submission_id: str | None = None):
        query = wire.PartUrlQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        upload = upload_services.file_upload_get(
            actor=request.auth, upload_id=upload_id, kind=self.kind, submission_id=submission_id
        )
        url = upload_services.file_upload_part_url(
            upload=upload,
            part_number=int(part_number),
            part_size=query.validated_data.get("partSize"),
        )
        return Response({"url": url})


class SampleUploadPartApi(UploadPartApi):
    kind = FileUpload.Kind.SAMPLE

    @extend_schema(
        responses=PART_URL,
        summary="S2: a presigned URL for one sample part",
        operation_id="sample_uploads_part",
        parameters=[
            OpenApiParameter("part_number", int, OpenApiParameter.PATH),
            wire.PartUrlQuerySerializer,
        ],
    )
    def get(self, request, upload_id: str, part_number: int, submission_id: str | None = None):
        return super().get(
            request, upload_id=upload_id, part_number=part_number, submission_id=submission_id
        )


UPLOAD_PARTS = inline_serializer(
    "UploadParts",
    {
        "fileUploadId": serializers.CharField(),
        "uploadId": serializers.CharField(),
        "filename": serializers.CharField(),
        "fileSize": serializers.IntegerField(),
        "state": serializers.ChoiceField(choices=FileUpload.State.choices),
        "expiresAt": serializers.DateTimeField(),
        "parts": inline_serializer(
            "StoredPart",
            {
                "partNumber": serializers.IntegerField(),
                "etag": serializers.CharField(),
                "size": serializers.IntegerField(),
            },
            many=True,
        ),
    },
)


class UploadPartsApi(APIView):
    kind = FileUpload.Kind.DATASET

    @extend_schema(
        responses=UPLOAD_PARTS,
        summary="The parts storage holds for an unfinished upload (to resume it)",
        operation_id="uploads_parts_list",
    )
    def get(self, request, upload_id: str, submission_id: str | None = None):
        listing = upload_services.file_upload_parts_list(
            actor=request.auth, upload_id=upload_id, kind=self.kind, submission_id=submission_id
        )
        return Response(wire.upload_parts_wire(listing))


class SampleUploadPartsApi(UploadPartsApi):
    kind = FileUpload.Kind.SAMPLE

    @extend_schema(
        responses=UPLOAD_PARTS,
        summary="The parts storage holds for an unfinished sample upload",
        operation_id="sample_uploads_parts_list",
    )
    def get(self, request, upload_id: str, submission_id: str | None = None):
        return super().get(request, upload_id=upload_id, submission_id=submission_id)


class UploadCompleteApi(APIView):
    """POST completes the upload (U4); DELETE abandons an unfinished one."""

    kind = FileUpload.Kind.DATASET

    @extend_schema(
        request=wire.UploadCompleteSerializer,
        responses=ANY_OBJECT,
        summary="U4: complete the upload (idempotent)",
        operation_id="uploads_complete",
    )
    def post(self, request, upload_id: str, submission_id: str | None = None):
        body = wire.UploadCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        upload = upload_services.file_upload_get(
            actor=request.auth, upload_id=upload_id, kind=self.kind, submission_id=submission_id
        )
        upload = upload_services.file_upload_complete(
            actor=request.auth,
            upload=upload,
            storage_upload_id=v["uploadId"],
            parts=v["parts"],
            checksum=v["checksum"],
        )
        return Response(wire.upload_wire(upload))

    @extend_schema(
        responses={204: None},
        summary="Abort an unfinished upload (idempotent; a completed one is 409)",
        operation_id="uploads_abort",
    )
    def delete(self, request, upload_id: str, submission_id: str | None = None):
        upload_services.file_upload_abort(
            actor=request.auth, upload_id=upload_id, kind=self.kind, submission_id=submission_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadAssembleApi(APIView):
    """POST asks storage to assemble the stored parts before the completion (the browser does,
    while it computes the file's checksum); the completion then only checks and records."""

    kind = FileUpload.Kind.DATASET

    @extend_schema(
        request=wire.UploadAssembleSerializer,
        responses=ANY_OBJECT,
        summary="Assemble the stored parts before completing (idempotent; not part of MDC)",
        operation_id="uploads_assemble",
    )
    def post(self, request, upload_id: str, submission_id: str | None = None):
        body = wire.UploadAssembleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        upload = upload_services.file_upload_get(
            actor=request.auth, upload_id=upload_id, kind=self.kind, submission_id=submission_id
        )
        upload = upload_services.file_upload_assemble(
            actor=request.auth, upload=upload, storage_upload_id=v["uploadId"], parts=v["parts"]
        )
        return Response(wire.upload_wire(upload))


class SampleUploadAssembleApi(UploadAssembleApi):
    kind = FileUpload.Kind.SAMPLE

    @extend_schema(
        request=wire.UploadAssembleSerializer,
        responses=ANY_OBJECT,
        summary="Assemble the stored sample parts before completing (idempotent)",
        operation_id="sample_uploads_assemble",
    )
    def post(self, request, upload_id: str, submission_id: str | None = None):
        return super().post(request, upload_id=upload_id, submission_id=submission_id)


class SampleUploadCompleteApi(UploadCompleteApi):
    kind = FileUpload.Kind.SAMPLE

    @extend_schema(
        request=wire.UploadCompleteSerializer,
        responses=ANY_OBJECT,
        summary="S4: complete the sample upload (idempotent)",
        operation_id="sample_uploads_complete",
    )
    def post(self, request, upload_id: str, submission_id: str | None = None):
        return super().post(request, upload_id=upload_id, submission_id=submission_id)

    @extend_schema(
        responses={204: None},
        summary="Abort an unfinished sample upload (idempotent; a completed one is 409)",
        operation_id="sample_uploads_abort",
    )
    def delete(self, request, upload_id: str, submission_id: str | None = None):
        return super().delete(request, upload_id=upload_id, submission_id=submission_id)


class SubmissionChecksApi(APIView):
    @extend_schema(
        responses=ANY_OBJECT,
        summary="Results of the automatic checks of a submission's files",
        operation_id="submissions_checks",
    )
    def get(self, request, submission_id: str):
        submission_services.upload_rights_require(actor=request.auth)
        submission = submission_services.submission_get_for_org(
            organization=request.auth.organization, submission_id=submission_id
        )
        runs = (
            CheckRun.objects.filter(submission=submission)
            .select_related("upload")
            .prefetch_related("results")
            .order_by("pk")
        )
        return Response(
            {
                "submissionId": submission.public_id,
                "status": submission.status,
                "runs": [wire.check_run_wire(run) for run in runs],
            }
        )


class DatasetCroissantApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={(200, "application/ld+json"): ANY_OBJECT},
        summary="Croissant 1.0 metadata (JSON-LD) of a dataset",
        operation_id="datasets_croissant",
    )
    def get(self, request, id_or_slug: str):
        organization = request.auth.organization if request.auth is not None else None
        dataset = dataset_lookup(id_or_slug=id_or_slug, organization=organization)
        document = croissant_document(dataset=dataset, version=dataset.latest_version)
        return Response(document, content_type="application/ld+json")
