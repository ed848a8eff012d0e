from django.http import JsonResponse


def locked_out(request, credentials=None, *args, **kwargs):
    return JsonResponse({"error": {"code": "throttled", "message": "Locked", "fields": {}}},
                        status=429)
