"""django-formtools wizards with a check on one step, as a site writes them."""

from django.http import HttpResponse
from formtools.wizard.views import CookieWizardView, SessionWizardView

from captchala_django.wizards import CaptchaLaWizardMixin

from .forms import DetailsForm, LastStepCheckForm, WhoForm

#: What done() saw, per wizard run: the tests count finished wizards here.
FINISHED: list[dict] = []


class SignupWizard(CaptchaLaWizardMixin, SessionWizardView):
    form_list = [("who", WhoForm), ("details", DetailsForm)]
    template_name = "wizards/step.html"

    def done(self, form_list, **kwargs):
        data = {}
        for form in form_list:
            data.update(form.cleaned_data)
        FINISHED.append(data)
        return HttpResponse("done", status=201)

    def get_form_initial(self, step):
        """The name defaults to the e-mail's local part: reads the checked step's data."""
        if step == "details":
            who = self.get_cleaned_data_for_step("who") or {}
            return {"name": who.get("email", "@").split("@")[0]}
        return super().get_form_initial(step)


class CookieSignupWizard(CaptchaLaWizardMixin, CookieWizardView):
    form_list = SignupWizard.form_list
    template_name = SignupWizard.template_name
    done = SignupWizard.done


class LastStepWizard(CaptchaLaWizardMixin, SessionWizardView):
    form_list = [("details", DetailsForm), ("agree", LastStepCheckForm)]
    template_name = SignupWizard.template_name
    done = SignupWizard.done


class PlainWizard(SessionWizardView):
    """Without the mixin: the wizard a site writes before it knows (never finishes)."""

    form_list = SignupWizard.form_list
    template_name = SignupWizard.template_name
    done = SignupWizard.done
