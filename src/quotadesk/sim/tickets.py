"""How customers write: several phrasings per symptom, terse or long, typos, pasted errors.

``write(rng, symptom, facts, ...)`` returns a contract ``ticket`` object. Each symptom has
subjects, openers (the complaint), optional details and closing asks; a customer's
``Voice`` decides greeting, length, sign-off, case and typos. An error the customer met
(a ``Deny`` the rulebook returned, or the provider's own 5xx) is pasted in the provider's
dialect (``billing.dialects.render``): as an attachment, inline in the body, as its
message alone, or not at all. What customers know is all they say: they report
symptoms, sometimes a guess, never the books' internal state.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quotadesk.billing.decision import Deny
from quotadesk.billing.dialects import RenderedError, render

PHRASES: dict[str, dict[str, Sequence[str]]] = {
    "outage": {
        "subject": (
            "API down?",
            "503 errors",
            "Requests timing out",
            "service unavailable",
            "urgent: production errors",
            "",
        ),
        "open": (
            "Since about {time} UTC most of our requests to {model} fail with a 503.",
            "Is the API down? We're getting server errors on almost every call.",
            "all our requests are erroring out right now, nothing changed on our side",
            "We're seeing a big spike of 5xx responses from your API in the last {minutes} minutes.",
            "Our production app can't get responses from your API - calls hang and then come back as service unavailable.",
            "Requests keep failing with 'overloaded' / unavailable errors since {time} UTC.",
        ),
        "detail": (
            "We haven't deployed anything today.",
            "Retrying works sometimes but mostly not.",
            "Our monitoring went red at {time} UTC.",
            "This is hitting our customers directly.",
            "Other endpoints of ours are fine, it's only the calls to you.",
        ),
        "ask": (
            "Can you confirm if there's an incident?",
            "When will this be fixed?",
            "Please advise asap.",
            "Any ETA?",
        ),
    },
    "cutoff": {
        "subject": (
            "API not working",
            "Requests failing",
            "All calls rejected",
            "help - production down",
            "errors since {day}",
            "",
        ),
        "open": (
            "Our API calls started failing {when} and nothing in our code changed.",
            "Every request returns an error since {when}.",
            "our integration stopped working, all requests get rejected",
            "Suddenly we can't make any requests to the API.",
            "Production is down: every call to {model} is refused.",
            "Hi, our app stopped getting responses {when}. What's going on?",
            "Calls from our backend have been failing {when}.",
        ),
        "detail": (
            "We didn't change anything on our side.",
            "It worked fine until then.",
            "We restarted our services, same thing.",
            "This is blocking our release.",
        ),
        "ask": ("Please help.", "What do we need to do?", "Can you look into it?", "Need this fixed today."),
    },
    "topped_up": {
        "subject": ("Paid but still blocked", "credits added, still 402", "Top-up not working?", ""),
        "open": (
            "I just added ${amount} of credits {minutes} minutes ago but requests still fail.",
            "We topped up ${amount} a little while ago and the API still refuses our calls.",
            "paid ${amount} just now, still getting the payment error",
            "Our balance ran out so I bought ${amount} of credits, but we're still getting errors.",
        ),
        "detail": (
            "The payment shows as successful on my side.",
            "The console shows the new balance.",
            "I got the receipt email.",
        ),
        "ask": ("How long does it take?", "Is something stuck?", "Please check.", ""),
    },
    "high_bill": {
        "subject": (
            "Unexpected charges",
            "Bill much higher than expected",
            "usage spike??",
            "Why is our bill so high",
            "Cost question",
        ),
        "open": (
            "Our bill for {month} is way higher than usual and we can't explain it.",
            "Why did we spend so much this month? Normally we're around ${usual}.",
            "The usage dashboard shows a spike around {date} that we can't explain.",
            "Our costs went up a lot recently and I can't figure out why.",
            "I think we're being charged incorrectly, {month} is way up.",
            "We got charged much more than expected - can you tell me what happened?",
            "spend is up a lot compared to last month, what's going on",
        ),
        "detail": (
            "Traffic on our side looks normal.",
            "We didn't launch anything new as far as I know.",
            "We did ship a release around {date}, not sure if it's related.",
            "Our user numbers haven't changed much.",
            "Can you break it down for us?",
            "Finance is asking me about it.",
        ),
        "ask": ("Can you explain the charges?", "Please check our usage.", "What caused this?", ""),
    },
    "discrepancy": {
        "subject": ("Invoice doesn't match usage", "Invoice question", "Numbers don't add up", ""),
        "open": (
            "The invoice for {month} says ${invoice} but the usage page for the same month adds up to ${usage}.",
            "Our {month} invoice and the usage export don't match: ${invoice} vs ${usage}.",
            "numbers don't match between the invoice and the usage dashboard for {month}",
            "I reconciled {month} and the usage log is about ${difference} off from what you invoiced.",
        ),
        "detail": (
            "Which one is correct?",
            "Are we going to be billed again for the difference?",
            "Our accounting needs the right figure.",
        ),
        "ask": ("Please clarify.", "Can billing look at it?", ""),
    },
    "trial": {
        "subject": (
            "Free credits gone?",
            "trial not working",
            "Free trial question",
            "insufficient balance on free trial",
            "",
        ),
        "open": (
            "I'm on the free trial and now every request fails.",
            "My free credits seem to be gone and the API stopped working.",
            "trial credits used up already? i barely did anything",
            "I signed up a few weeks ago with the free credits and now I get an insufficient balance error.",
            "Just started testing and suddenly all requests are refused.",
        ),
        "detail": (
            "I haven't added a card yet.",
            "This is just a side project.",
            "I'm still evaluating the API.",
        ),
        "ask": ("What happened?", "Do I need to pay now?", "How do I continue?", ""),
    },
    "trial_left": {
        "subject": ("My free credits disappeared", "credits vanished", "Free trial balance", ""),
        "open": (
            "I still had about ${left} of free credit and now I get an insufficient balance error.",
            "My remaining trial credits are gone? There was money left on it.",
            "The console said I had credits left but requests now fail with a billing error.",
            "where did my free credits go? I didn't use them all",
        ),
        "detail": ("I was going to use them this week.", "I hadn't used the API for a while."),
        "ask": ("Can you check?", "Is this a bug?", ""),
    },
    "rate_free": {
        "subject": ("429 too many requests", "rate limited??", "Rate limit on free plan", ""),
        "open": (
            "I keep getting 429 too many requests but I'm only sending a handful of requests.",
            "Rate limited after 3 requests?? I'm just testing a small script.",
            "Getting rate limit errors constantly even though my usage is tiny.",
            "why am i getting too many requests errors, its like 5 calls",
        ),
        "detail": ("I'm on the free plan.", "This is for a prototype.", "I haven't added billing yet."),
        "ask": ("How do I get around this?", "Is this normal?", ""),
    },
    "upgrade": {
        "subject": ("Added card, still limited", "Upgrade not applied", "still on free tier", ""),
        "open": (
            "I added a credit card {when} and bought ${amount} of credits, but I'm still stuck with the free limits.",
            "Paid ${amount} but I still can't use {model}.",
            "added billing info and credits but nothing changed, still getting limited",
            "We upgraded by adding a payment method {when} but our limits didn't change.",
        ),
        "detail": ("The payment went through.", "I need higher limits for a demo tomorrow."),
        "ask": ("When does the upgrade kick in?", "Can you upgrade us?", ""),
    },
    "model_access": {
        "subject": ("Can't access {model}", "403 on {model}", "model not available", ""),
        "open": (
            "I can't use {model}, the API says I don't have access to it.",
            "Getting a 403 for {model} even though other models work fine.",
            "{model} doesn't work for us, is it restricted?",
            "Why am I not allowed to call {model}? I have credits on the account.",
        ),
        "detail": ("Other models work.", "The docs say it's generally available."),
        "ask": ("How do I get access?", "Please enable it.", ""),
    },
    "refund_compromise": {
        "subject": (
            "Unauthorized usage - refund",
            "Our key was stolen",
            "fraudulent charges",
            "URGENT compromised key",
        ),
        "open": (
            "Someone used our API key - there are charges from {date} that we did not make. We want these reversed.",
            "Our key leaked (we pushed it to a public repo by mistake) and someone ran up ${amount}. Can we get a refund?",
            "There's usage on our account at hours we don't work and on models we don't use. It isn't us. Please refund.",
            "we got hacked, somebody is using our api key, we need the money back",
        ),
        "detail": (
            "We have rotated the key since.",
            "None of our systems use {model}.",
            "Our servers were all idle at that time.",
        ),
        "ask": (
            "Please refund these charges.",
            "Can you credit this back?",
            "What can you do about the charges?",
        ),
    },
    "refund_outage": {
        "subject": ("Refund for outage retries", "Charged during your outage", "billing during incident", ""),
        "open": (
            "During your outage on {date} our retry logic went crazy and we were charged ${amount}. Please refund those charges.",
            "Your API was failing on {date} and we got billed for all the retries.",
            "The incident on {date} cost us a lot: our client kept retrying and the retries were charged.",
            "we were charged for failed requests during your downtime on {date}, we want a refund",
        ),
        "detail": ("It was your outage, not our bug.", "We've added backoff since."),
        "ask": ("Can you refund it?", "Please credit our account.", ""),
    },
    "refund_bug": {
        "subject": ("Refund request - bug on our side", "Accidental usage", "Loop burned our credits", ""),
        "open": (
            "We had a bug in our code that called the API in a loop on {date}. It cost us about ${amount}. Is there any way to get some of that back?",
            "A deploy on {date} had a bug ({bug}) and hammered your API for hours. Could we get a refund?",
            "Our worker got stuck in a loop on {date} and spent ${amount}. Log attached. Refund possible?",
            "my mistake, a bug made thousands of calls on {date}. any chance of a refund?",
        ),
        "detail": (
            "We fixed it the same day.",
            "The log excerpt is attached.",
            "It's been deployed with a fix.",
        ),
        "ask": ("Please let us know.", "We'd appreciate a refund.", ""),
    },
    "refund_expensive": {
        "subject": ("Refund? didn't expect the cost", "Bill for {model}", "Too expensive", ""),
        "open": (
            "I didn't realize {model} was that expensive, my bill is ${amount}. Can I get a refund?",
            "I was using {model} for everything and it cost way more than I thought. Refund?",
            "We picked {model} for our app and the costs are much higher than we planned. Could you refund part of it?",
            "didnt know {model} costs so much. can i have my money back",
        ),
        "detail": ("I've switched to a cheaper model now.", "The pricing page wasn't clear to me."),
        "ask": ("Please let me know.", "Any refund would help.", ""),
    },
    "refund_forgot": {
        "subject": ("Left a job running - refund?", "Forgot to stop script", "Weekend charges", ""),
        "open": (
            "I left an eval script running over the weekend and forgot to stop it. ${amount} gone. Can you refund it?",
            "forgot to turn off our batch job, it ran for days. any chance of a refund?",
            "Our test runner kept going after we were done with it and ran for {days} days. Could we get a credit?",
            "I stopped the script only on {date}, it had been running day and night. Refund please?",
        ),
        "detail": ("Totally my fault.", "We've added an alert now."),
        "ask": ("Thanks in advance.", "Would appreciate it.", ""),
    },
    "suspended": {
        "subject": (
            "Account suspended?",
            "Account disabled",
            "URGENT: 401 account suspended",
            "can't log in",
            "",
        ),
        "open": (
            "Our account has been suspended and all requests return 401. Why?",
            "Account disabled?? We need access back for production.",
            "I can't log into the console and the API says our account is suspended.",
            "We got an email that our organization was suspended. What happened?",
            "all our keys stopped working, error says account suspended",
        ),
        "detail": (
            "We haven't done anything unusual.",
            "Our whole product depends on this.",
            "We're a paying customer.",
        ),
        "ask": ("Please restore access.", "Who can help us?", "What do we need to do?", ""),
    },
    "suspected_suspension": {
        "subject": ("Is my account suspended?", "Account banned?", "account locked", ""),
        "open": (
            "I think our account got suspended? I can't get into the dashboard.",
            "Is my account banned? Something seems blocked.",
            "Got a strange email saying our account would be suspended. Is that real?",
            "our account looks locked, did you suspend us?",
        ),
        "detail": ("I'm not sure what's going on.", "Nobody on my team changed anything."),
        "ask": ("Can you check?", "Please confirm.", ""),
    },
    "key_invalid": {
        "subject": ("401 invalid API key", "Key stopped working", "authentication error", ""),
        "open": (
            "Getting 401 invalid API key since {when}.",
            "Our key stopped working out of nowhere.",
            "Authentication errors on all requests from our {service} service.",
            "Every request from one of our services fails with an auth error, the others are fine.",
            "api key rejected, incorrect api key provided",
        ),
        "detail": (
            "We rotated some keys recently.",
            "Nothing changed in that service.",
            "Other services work fine.",
        ),
        "ask": ("Can you check the key?", "What's wrong with it?", ""),
    },
    "key_departed": {
        "subject": (
            "Key rejected after colleague left",
            "401 on our pipeline",
            "API key stopped working",
            "",
        ),
        "open": (
            "Since {person} left the company our pipeline gets 401s.",
            "The key our nightly job uses was created by a colleague who left last week and now it's rejected.",
            "One of our services lost access, I think it used {person}'s key.",
            "Our {service} service started getting invalid key errors {when}.",
        ),
        "detail": ("{person} offboarded recently.", "The key was working for months."),
        "ask": ("How do we fix this?", "Can you re-enable the key?", ""),
    },
    "rate_limit": {
        "subject": (
            "429 rate limits",
            "Rate limit errors on paid plan",
            "Too many requests",
            "Request too large?",
            "",
        ),
        "open": (
            "We're hitting 429 rate limits on {model} even though we're on a paid tier.",
            "Getting 'rate limit reached' errors during our batch jobs.",
            "Lots of 429s today from {model}. We pay for this!",
            "Our document pipeline gets too many requests errors when it runs.",
        ),
        "detail": (
            "Our volume hasn't changed much.",
            "We're on {tier}.",
            "It happens mostly during the batch run.",
        ),
        "ask": ("Can you raise our limits?", "Is this a billing problem?", "What are our limits?", ""),
    },
    "vague": {
        "subject": ("Help", "Question about my account", "account issue", "Please call me", ""),
        "open": (
            "Hi, something seems off with our account. Can someone get in touch?",
            "Need help with my account please.",
            "Having some issues, could someone from support call me back?",
            "question about our account",
            "Hello, I have a problem and would like to talk to someone.",
        ),
        "detail": ("It's a bit urgent.", "My number is in my profile."),
        "ask": ("Thanks.", ""),
    },
}

GREETINGS = ("Hi,", "Hello,", "Hey team,", "Hi support,", "Hello there,", "Good morning,", "")
SIGNOFFS = ("Thanks", "Thanks,\n{person}", "Regards,\n{person}", "Cheers", "thx", "Best,\n{person}", "")
PEOPLE = ("Dana", "Priya", "Tom", "Lukas", "Mei", "Jorge", "Aisha", "Sam", "Olga", "Kenji", "Fatima", "Noah")


@dataclass(frozen=True, slots=True)
class Voice:
    """How one customer writes: length, greeting, sign-off, typos, case."""

    terse: bool
    greeting: str
    signoff: str
    typo_rate: float
    lowercase: bool
    person: str

    @classmethod
    def pick(cls, rng: random.Random) -> Voice:
        terse = rng.random() < 0.3
        return cls(
            terse=terse,
            greeting="" if terse else rng.choice(GREETINGS),
            signoff="" if terse else rng.choice(SIGNOFFS),
            typo_rate=rng.choice((0.0, 0.0, 0.02, 0.05)),
            lowercase=rng.random() < 0.12,
            person=rng.choice(PEOPLE),
        )


def _fill(template: str, facts: Mapping[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(facts.get(m.group(1), m.group(0))), template)


def _usable(template: str, facts: Mapping[str, str]) -> bool:
    return all(name in facts for name in re.findall(r"\{(\w+)\}", template))


def _choice(rng: random.Random, options: Sequence[str], facts: Mapping[str, str]) -> str:
    ok = [o for o in options if _usable(o, facts)]
    return _fill(rng.choice(ok), facts) if ok else ""


_PROTECTED = re.compile(r"[\d$_/@`{}\[\]\"':]|^sk-|^https?")


def typos(text: str, rate: float, rng: random.Random) -> str:
    """Swap, drop or double a letter in some words (never in figures, ids, keys or code)."""
    if rate <= 0:
        return text
    out = []
    for word in re.split(r"(\s+)", text):
        if len(word) >= 4 and word.isalpha() and not _PROTECTED.search(word) and rng.random() < rate:
            i = rng.randrange(1, len(word) - 1)
            kind = rng.randrange(3)
            if kind == 0:
                word = word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
            elif kind == 1:
                word = word[:i] + word[i + 1 :]
            else:
                word = word[:i] + word[i] + word[i:]
        out.append(word)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Pasted:
    """An error the customer met: its rendering in the provider's dialect and when."""

    error: RenderedError
    seen_at: datetime | None

    @classmethod
    def of(cls, deny: Deny, provider: str, seen_at: datetime | None) -> Pasted:
        return cls(render(deny, provider), seen_at)


def _rfc3339(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _message(err: RenderedError) -> str:
    body = err.body
    for path in (("error", "message"), ("message",), ("detail",), ("error",)):
        node: Any = body
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            return node
    return err.text()


def write(
    rng: random.Random,
    symptom: str,
    facts: Mapping[str, str],
    *,
    ticket_id: str,
    hints: Sequence[str] = (),
    pasted: Pasted | None = None,
    paste_mode: str | None = None,
    extra_attachments: Sequence[dict[str, Any]] = (),
    extra_lines: Sequence[str] = (),
) -> dict[str, Any]:
    """A ticket for ``symptom`` in a customer's voice (see the module docstring).

    ``hints`` are sentences only this customer would add (what they believe happened);
    ``paste_mode`` is ``attachment``, ``inline``, ``message`` or ``none`` (random when None).
    """
    table = PHRASES[symptom]
    voice = Voice.pick(rng)
    facts = {"person": voice.person, **facts}
    lines: list[str] = []
    if voice.greeting:
        lines.append(voice.greeting)
    body = [_choice(rng, table["open"], facts)]
    if not voice.terse:
        details = [d for d in table["detail"] if _usable(d, facts)]
        rng.shuffle(details)
        body.extend(_fill(d, facts) for d in details[: rng.randrange(0, 3)])
    usable_hints = [h for h in hints if _usable(h, facts)]
    if usable_hints and rng.random() < (0.5 if voice.terse else 0.8):
        body.insert(1, _fill(rng.choice(usable_hints), facts))
    if not voice.terse:
        ask = _choice(rng, table["ask"], facts)
        if ask:
            body.append(ask)
    text = " ".join(s for s in body if s)
    text = typos(text, voice.typo_rate, rng)
    if voice.lowercase:
        text = text.lower()
    lines.append(text)
    lines.extend(extra_lines)
    attachments: list[dict[str, Any]] = list(extra_attachments)
    if pasted is not None:
        mode = paste_mode or rng.choice(("attachment", "attachment", "inline", "message", "none"))
        err = pasted.error
        if mode == "attachment":
            attachments.insert(
                0,
                {
                    "kind": "error_response",
                    "status": err.status,
                    "body": err.text(),
                    "seen_at": _rfc3339(pasted.seen_at) if pasted.seen_at and rng.random() < 0.6 else None,
                },
            )
        elif mode == "inline":
            intro = rng.choice(
                ("Here's the response we get:", "Error:", "The API returns:", "Response body:")
            )
            lines.append(f"{intro}\n{err.status} {json.dumps(err.body, ensure_ascii=False)}")
        elif mode == "message":
            lines.append(
                rng.choice(('It says "{m}"', "Error message: {m}", "we get: {m} ({s})")).format(
                    m=_message(err), s=err.status
                )
            )
    signoff = _fill(voice.signoff, facts)
    if signoff:
        lines.append(signoff)
    subject = _choice(rng, table["subject"], facts)
    if voice.lowercase:
        subject = subject.lower()
    return {
        "id": ticket_id,
        "subject": subject,
        "body": "\n\n".join(lines),
        "attachments": attachments,
    }
