"""What may follow each command of the episode, as OpenAPI links (`links.py`): the usual
next steps, with the ids they take, for clients and for the stateful fuzzer."""

from __future__ import annotations

from careledger.gateways.links import ANSWERED_ID, Links, link, then


def _next(*operations: str) -> Links:
    """Commands on the same referral (every answer's id is the referral's)."""
    return link(*operations, referral_id=ANSWERED_ID)


#: A session just scheduled, and a request to amend just made, by the ids the request chose.
SESSION = link("complete_session", "cancel_session", "record_no_show", referral_id=ANSWERED_ID,
               session_id="$request.body#/session_id")
AMENDMENT_REQUEST = link("accept_amendment", "deny_amendment", referral_id=ANSWERED_ID,
                         request_id="$request.body#/request_id")
#: What may follow each step of the episode (the usual next steps, not every one allowed).
FOLLOWS = {
    "make_referral": then(_next("accept_referral", "decline_referral", "cancel_referral")),
    "accept_referral": then(_next("record_assessment", "cancel_referral")),
    "decline_referral": then(_next("redirect_referral", "cancel_referral")),
    "redirect_referral": then(_next("accept_referral", "decline_referral")),
    "cancel_referral": {},
    "record_assessment": then(_next("draft_plan")),
    "draft_plan": then(_next("certify_plan", "revise_plan")),
    "revise_plan": then(_next("certify_plan")),
    "certify_plan": then(_next("schedule_session", "recertify_plan")),
    "recertify_plan": then(_next("schedule_session")),
    "schedule_session": then(SESSION),
    "complete_session": then(_next("schedule_session", "send_progress_report", "discharge",
                                   "request_amendment")),
    "cancel_session": then(_next("schedule_session")),
    "record_no_show": then(_next("schedule_session")),
    "send_progress_report": then(_next("schedule_session", "discharge")),
    "discharge": then(_next("amend", "request_amendment")),
    "amend": {},
    "request_amendment": then(AMENDMENT_REQUEST),
    "deny_amendment": then(link("file_disagreement", referral_id=ANSWERED_ID,
                                request_id="$request.path.request_id")),
    "accept_amendment": {},
    "file_disagreement": {},
}
