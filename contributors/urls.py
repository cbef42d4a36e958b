app_name = "contributors"

urlpatterns: list = []
