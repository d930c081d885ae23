"""What every page's header and footer show: the operator, contact, privacy notice and ICP filing number."""

from django.conf import settings


def site(request):
    return {
        "site": {
            "operator": settings.DGD_OPERATOR,
            "contact_email": settings.DGD_CONTACT_EMAIL,
            "contact_phone": settings.DGD_CONTACT_PHONE,
            "icp_number": settings.DGD_ICP_NUMBER,
        }
    }
