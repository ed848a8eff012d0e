from rest_framework.views import APIView


def register(router) -> None:
    pass


class ObtainTokenView(APIView):
    pass
