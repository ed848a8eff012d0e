"""Identity over the API: obtaining and managing tokens, users and assignment groups."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mainspring.core.api import (
    ApiError,
    KeysetPagination,
    StrictQueryParamsMixin,
    error_body,
    reject_unknown,
    require_object,
)
from mainspring.core.api_config import ConfigViewSet, EveryoneReadsAdminsWrite
from mainspring.core.json_types import StrictJSONTypes
from mainspring.core.parsing import MAX_INT

from . import services
from .models import ApiToken, AssignmentGroup, Membership, Role, User
from .policy import is_agent

__all__ = ["GroupViewSet", "ObtainTokenView", "TokenViewSet", "UserViewSet", "register"]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>`` in the OpenAPI schema."""

    target_class = "mainspring.identity.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token from POST /api/v1/auth/token/.",
        }


INVALID_CREDENTIALS = error_body(
    "invalid_credentials", "The username or password is not correct.", {}
)


class ObtainTokenSerializer(StrictJSONTypes, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    name = serializers.CharField(
        max_length=100, required=False, help_text="Label for the token list; default 'api'."
    )


class TokenSecretSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once; send as `Authorization: Bearer …`.")
    id = serializers.IntegerField()
    name = serializers.CharField()


class ObtainTokenView(APIView):
    """``POST /api/v1/auth/token/``: a new personal token for a username and password.

    Goes through ``django.contrib.auth.authenticate`` with the request, so django-axes
    counts failures and locks the username and the address (429). Unknown user, wrong
    password and disabled user all get the same 400 body.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=ObtainTokenSerializer,
        responses={
            201: TokenSecretSerializer,
            400: OpenApiResponse(description="Wrong credentials (same body whatever was wrong)."),
            429: OpenApiResponse(description="Locked out after too many failures."),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request) -> Response:
        data = require_object(request.data)
        reject_unknown(data, {"username", "password", "name"})
        serializer = ObtainTokenSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        django_request = request._request
        user = authenticate(
            request=django_request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if getattr(django_request, "axes_locked_out", False):
            raise ApiError(429, "throttled", "Too many failed sign-in attempts; try again later.")
        if user is None or not user.is_active:
            return Response(INVALID_CREDENTIALS, status=status.HTTP_400_BAD_REQUEST)
        token, raw = services.create_api_token(user, serializer.validated_data.get("name") or "api")
        response = Response(
            {"token": raw, "id": token.pk, "name": token.name}, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"
        return response


class TokenSerializer(serializers.ModelSerializer):
    """A token as listed: never its secret, only the first characters as a hint."""

    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at", "revoked_at", "active"]
        read_only_fields = fields


class TokenCreateSerializer(StrictJSONTypes, serializers.Serializer):
    name = serializers.CharField(max_length=100)


@extend_schema(tags=["auth"])
class TokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your own API tokens: list, create (secret shown once), revoke (DELETE)."""

    serializer_class = TokenSerializer
    pagination_class = KeysetPagination
    filter_backends: list = []
    queryset = ApiToken.objects.none()  # typed path parameter for the schema
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet:
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenSecretSerializer})
    def create(self, request) -> Response:
        data = require_object(request.data)
        reject_unknown(data, {"name"})
        serializer = TokenCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.create_api_token(request.user, serializer.validated_data["name"])
        response = Response(
            {"token": raw, "id": token.pk, "name": token.name}, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(responses={204: None}, description="Revoke: the token answers 401 at once.")
    def destroy(self, request, *args, **kwargs) -> Response:
        services.revoke_api_token(self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(
        read_only=True, allow_blank=True, help_text="'' for a user without an address."
    )
    groups = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["username", "name", "email", "role", "is_active", "groups"]
        read_only_fields = fields

    def get_groups(self, obj: User) -> list[int]:
        return [m.group_id for m in obj.memberships_for_api]


class UserFilterSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    q = serializers.CharField(max_length=150, required=False)
    group = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT)
    is_active = serializers.BooleanField(required=False)


@extend_schema(tags=["users"])
class UserViewSet(StrictQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """People, by username. Agents see everyone; a requester sees only themself."""

    serializer_class = UserSerializer
    pagination_class = KeysetPagination
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]{1,150}"
    filter_backends: list = []
    extra_query_params = frozenset({"cursor", "page_size", "role", "q", "group", "is_active"})

    def get_queryset(self) -> QuerySet:
        qs = User.objects.prefetch_related(
            Prefetch(
                "membership_set",
                queryset=Membership.objects.only("group_id", "user_id"),
                to_attr="memberships_for_api",
            )
        )
        if not is_agent(self.request.user):
            return qs.filter(pk=self.request.user.pk)
        return qs

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset
        # A plain dict: with a QueryDict DRF reads a missing boolean as an unticked box.
        params = UserFilterSerializer(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        f = params.validated_data
        if "role" in f:
            queryset = queryset.filter(role=f["role"])
        if f.get("q"):
            queryset = queryset.filter(
                Q(username__icontains=f["q"])
                | Q(display_name__icontains=f["q"])
                | Q(email__icontains=f["q"])
            )
        if "group" in f:
            queryset = queryset.filter(membership__group_id=f["group"])
        if "is_active" in f:
            queryset = queryset.filter(is_active=f["is_active"])
        return queryset

    @extend_schema(parameters=[UserFilterSerializer])
    def list(self, request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=UserSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def me(self, request) -> Response:
        """Who the token or session belongs to."""
        user = self.get_queryset().get(pk=request.user.pk)
        return Response(UserSerializer(user).data)


class GroupSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="The group's mailbox: assignment mail goes here instead of to each member.",
    )
    active = serializers.BooleanField(required=False)
    members = serializers.SerializerMethodField()
    managers = serializers.SerializerMethodField()

    class Meta:
        model = AssignmentGroup
        fields = ["id", "name", "description", "email", "active", "members", "managers"]
        read_only_fields = ["id", "members", "managers"]

    def get_members(self, obj: AssignmentGroup) -> list[str]:
        return [m.user.username for m in obj.memberships_for_api]

    def get_managers(self, obj: AssignmentGroup) -> list[str]:
        return [m.user.username for m in obj.memberships_for_api if m.is_manager]


class MemberWriteSerializer(StrictJSONTypes, serializers.Serializer):
    username = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), help_text="An active agent."
    )
    is_manager = serializers.BooleanField(
        required=False, default=False, help_text="Managers may reassign the group's tickets."
    )


@extend_schema(tags=["configuration"])
class GroupViewSet(ConfigViewSet):
    """Assignment groups with their members (usernames). Everyone signed in reads them;
    administrators create and change them and their members (deactivate, never delete)."""

    serializer_class = GroupSerializer
    permission_classes = [permissions.IsAuthenticated, EveryoneReadsAdminsWrite]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    save = staticmethod(services.save_group)

    def get_queryset(self) -> QuerySet:
        return AssignmentGroup.objects.prefetch_related(
            Prefetch(
                "membership_set",
                queryset=Membership.objects.select_related("user").order_by("user__username"),
                to_attr="memberships_for_api",
            )
        )

    @extend_schema(
        summary="Add a member, or change whether they manage the group (admins)",
        request=MemberWriteSerializer,
        responses={200: GroupSerializer},
    )
    @action(detail=True, methods=["post"], url_path="members", filter_backends=[])
    def add_member(self, request, pk=None) -> Response:
        group = self.get_object()
        data = require_object(request.data)
        reject_unknown(data, {"username", "is_manager"})
        serializer = MemberWriteSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        services.add_group_member(
            group,
            serializer.validated_data["username"],
            by=request.user,
            is_manager=serializer.validated_data["is_manager"],
        )
        return Response(self.get_serializer(self._reload(group)).data)

    @extend_schema(
        summary="Take a member out of the group (admins); their tickets stay assigned",
        request=None,
        responses={200: GroupSerializer},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"members/(?P<username>[\w.@+-]{1,150})",
        filter_backends=[],
    )
    def remove_member(self, request, pk=None, username: str = "") -> Response:
        group = self.get_object()
        user = User.objects.filter(username=username).first()
        if user is None or not services.remove_group_member(group, user, by=request.user):
            raise ApiError(404, "not_found", f"{username} is not a member of {group.name}.")
        return Response(self.get_serializer(self._reload(group)).data)


def register(router) -> None:
    router.register("users", UserViewSet, basename="user")
    router.register("groups", GroupViewSet, basename="group")
    router.register("tokens", TokenViewSet, basename="token")
