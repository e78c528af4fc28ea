"""The example project's survey flow: the demo survey, pending surveys on the learner's dashboard, the survey
page in the site's own layout, and the script that opens a survey after a completed content."""

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from lms_surveys.models import SurveyInvitation, SurveyResponse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not apps.is_installed("groundup_site"), reason="needs the example project"),
]


@pytest.fixture
def demo():
    from groundup_site import demo

    demo.load_users()
    demo.load_core()
    return demo.load_surveys()


def test_the_demo_loader_is_idempotent_and_invites_the_learner(demo):
    from groundup_site.demo import load_surveys

    assert len(demo) == 2
    assert load_surveys() == demo
    assert SurveyInvitation.objects.filter(user__username="learner").count() == 1  # only the completed lesson


def test_dashboard_lists_pending_surveys_until_answered(demo):
    client = Client()
    client.login(username="learner", password="groundup-learner")
    invitation = SurveyInvitation.objects.select_related("target__survey").get(user__username="learner")
    home = client.get(reverse("home")).content.decode()
    take_url = reverse("lms_surveys:take", args=[invitation.target.survey_id])
    assert "Tell us how it went" in home and take_url in home
    page = client.get(take_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="site-header"' in html  # the site's base template (LMS_SURVEYS["BASE_TEMPLATE"])
    assert "lms_surveys/after-completion.js" in html
    questions = list(invitation.target.survey.questions.order_by("order"))
    data = {
        f"question_{questions[0].pk}": "5",
        f"question_{questions[1].pk}": questions[1].get_choices()[1][0],
        f"question_{questions[2].pk}": [questions[2].get_choices()[1][0]],
        f"question_{questions[3].pk}": "더 많은 예제 · More examples",
        "next": reverse("home"),
    }
    done = client.post(take_url, data)
    assert done.status_code == 302 and done["Location"] == reverse("home")
    response = SurveyResponse.objects.get(learner__username="learner")
    assert response.enrollment_status and response.progress_state == "completed"
    home = client.get(reverse("home")).content.decode()
    assert take_url not in home and "Thank you: your answers are saved." in home
