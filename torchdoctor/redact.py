"""Keep secrets out of every report.

Two rules. Environment variables are an allowlist (``env_value``): a value is recorded only when the
doctor knows the variable and the value fits its grammar (``rules.envvars``); any other is recorded as
set, its value withheld. Free text that must be kept (torch's error, a traceback line, every string of
a report as it is rendered, in every format) goes through ``redact_value``: secret shapes from the rule
sets of gitleaks and detect-secrets, keys that name a secret in every quoting, credentials in URLs, and
an entropy rule for long opaque tokens. ``Redactor`` additionally hides who and where (user name, home
directory, host name, GPU UUIDs and serials) in the formats meant for sharing.
"""

from __future__ import annotations

import dataclasses
import enum
import getpass
import math
import os
import re
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from torchdoctor.rules import envvars

T = TypeVar("T")

HIDDEN = "<redacted>"

# Shapes of secrets, after the rule sets that secret scanners maintain: gitleaks config/gitleaks.toml
# (github.com/gitleaks/gitleaks, rule ids in the comments) and Yelp detect-secrets' plugins
# (github.com/Yelp/detect-secrets, detect_secrets/plugins/*.py). tests/secrets/shapes.json plants each one.

PRIVATE_KEY = re.compile(
    r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9_-]{0,100}-----|\Z)"
    r"|PuTTY-User-Key-File-\d.*\Z",
    re.S,
)
"""gitleaks private-key; detect-secrets private_key.py (PuTTY too). A block cut short is hidden to its end."""

URL_WITH_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^\s'\"<>]{0,512})@")
"""scheme://user:password@host; the password may hold '@', '/' or '+' (detect-secrets basic_auth.py)."""
PLAIN_USER = re.compile(r"[a-z][a-z0-9._-]{0,31}")

USER_PASSWORD_AT_HOST = re.compile(
    r"(?<![\w./:@%+-])[\w.%+-]{1,128}:(?!//)\S{0,256}?[^\s@]@(?=[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*"
    r"(?::\d+)?(?![\w@]))"
)
"""user:password@proxy without a scheme (HTTPS_PROXY=alice:pw@proxy:3128)."""

AUTHORIZATION = re.compile(
    r"(?i)(\b(?:proxy-)?authorization\b['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey)\s+)?[^\s'\",;]+"
)
"""Authorization: Bearer|Basic ... (gitleaks curl-auth-header)."""
BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}")

_TOKEN_RULES = (
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # gitleaks github-pat, github-oauth, github-app-token, github-refresh-token
    r"github_pat_\w{20,}",  # github-fine-grained-pat
    r"gl(?:pat|rt|ptt|dt|soat)-[\w-]{20,}",  # gitlab-pat, gitlab-runner-authentication-token, ...
    r"hf_[A-Za-z0-9]{20,}",  # huggingface-access-token
    r"api_org_[A-Za-z0-9]{20,}",  # huggingface-organization-api-token
    r"sk-[A-Za-z0-9_-]{20,}",  # openai-api-key, anthropic-api-key (sk-ant-api03-...)
    r"(?:sk|rk|pk)_(?:test|live|prod)_[A-Za-z0-9]{10,}",  # stripe-access-token; detect-secrets stripe.py
    r"pypi-[A-Za-z0-9_-]{16,}",  # pypi-upload-token; detect-secrets pypi_token.py
    r"xox[abposre]-[A-Za-z0-9-]{10,}",  # slack-bot-token, slack-user-token; detect-secrets slack.py
    r"xapp-\d-[A-Za-z0-9-]{10,}",  # slack-app-token
    r"AIza[\w-]{30,}",  # gcp-api-key
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",  # aws-access-token; detect-secrets aws.py
    r"ey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",  # jwt; detect-secrets jwt.py
    r"npm_[A-Za-z0-9]{36}",  # npm-access-token
    r"SG\.[\w-]{16,}\.[\w-]{16,}",  # sendgrid-api-token
    r"SK[0-9a-fA-F]{32}",  # twilio-api-key
    r"do[opr]_v1_[a-f0-9]{64}",  # digitalocean-pat
    r"dapi[a-f0-9]{32}(?:-\d)?",  # databricks-api-token
    r"hvs\.[\w-]{24,}",  # vault-service-token
    r"lin_api_[A-Za-z0-9]{40}",  # linear-api-key
    r"pplx-[A-Za-z0-9]{40,}",  # perplexity-api-key
    r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",  # shopify-access-token
    r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",  # grafana-service-account-token
    r"\d{8,10}:AA[0-9A-Za-z_-]{33}",  # telegram-bot-api-token; detect-secrets telegram_token.py
    r"AKC[a-zA-Z0-9]{10,}",  # artifactory-api-key; detect-secrets artifactory.py
)
TOKEN_SHAPES = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(_TOKEN_RULES) + ")")
WEBHOOK = re.compile(
    r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/|discord(?:app)?\.com/api/webhooks/)[\w+/-]+"
)
"""gitleaks slack-webhook-url, discord-webhook-url: the path is the secret."""

SECRET_WORD = (
    r"(?:password|passwd|passphrase|pass|pwd|pw|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key|"
    r"key|auth|credentials?|creds|session[_-]?id|cookie|pat|sig|signature|sas|sg)"
)
SECRET_NAME = rf"(?:[A-Za-z0-9]{{1,64}}[_.-]){{0,8}}{SECRET_WORD}"
"""A key that names a secret, with or without a prefix: password, X_PASSWORD, AWS_SECRET_ACCESS_KEY, GH_PAT, api-key
(detect-secrets keyword.py's denylist, gitleaks generic-api-key's keywords)."""
CAMEL_NAME = r"[a-z][a-zA-Z0-9]{0,64}(?:Key|Token|Secret|Password|Passwd|Pwd|Pass|Auth|Credentials?|Cookie|Signature)"
"""apiKey, accessToken, clientSecret, AccountKey-less camelCase keys in JSON and code."""
_VALUE = r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>(?!<redacted>)[^\s&;,'\"]+))"
KEY_VALUE_SECRET = re.compile(
    rf"(?<![\w-])(?P<key>[\"']?(?:(?i:{SECRET_NAME})|{CAMEL_NAME}|(?i:Account|SharedAccess)Key)[\"']?\s*(?:=|:(?!//)|=>|:=)"
    rf"\s*){_VALUE}"
)
"""KEY=value, KEY: value, key = "value", "api_key": "value", password: 'value'."""
OPTION_SECRET = re.compile(rf"(?i)(?<![\w-])(--?{SECRET_NAME})([ \t]+|=)(?!<redacted>)([^\s&;,'\"-][^\s&;,'\"]*)")
"""--password value, --api-key=value."""
CURL_USER = re.compile(r"(?<![\w-])((?:-u|--user)(?:[ \t]+|=))['\"]?[^\s:'\"]+:[^\s'\"]+")
"""curl -u user:password (gitleaks curl-auth-user)."""
NETRC = re.compile(r"(?i)(\b(?:password|passwd|account)\s+)(?!<redacted>)\S+")
NETRC_CONTEXT = re.compile(r"(?i)\b(?:machine|default)\s+\S*.*\b(?:login|password)\b", re.S)
"""A .netrc line: machine HOST login USER password PASSWORD."""

OPAQUE = re.compile(r"(?<![\w+/=.-])[A-Za-z0-9+/_=-]{24,}(?![\w+/=-])")
HEX_LIKE = re.compile(r"[0-9a-fA-F-]+")
DEVICE_PREFIX = re.compile(r"^(?:MIG-)?(?:GPU-)?")
ENTROPY_LIMIT = 4.0
"""Bits per character over which a long token that mixes upper case, lower case and digits is taken for a secret:
below detect-secrets' 4.5 for base64 strings, since a 24-character string cannot reach 4.6 (log2 24)."""


def entropy(text: str) -> float:
    """Shannon entropy of ``text``'s characters, in bits per character (detect-secrets high_entropy_strings.py)."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def opaque(token: str) -> bool:
    """A long random-looking token: mixed case and digits, high entropy. Never a hex string (git SHAs, hashes),
    a path, a mangled C++ symbol (_Z...) or an identifier of words (CUDNN_STATUS_..., cudaErrorNoKernelImage)."""
    if HEX_LIKE.fullmatch(DEVICE_PREFIX.sub("", token)) or token.startswith("_Z") or token.count("/") > 1:
        return False
    upper, lower, digit = (any(test(c) for c in token) for test in (str.isupper, str.islower, str.isdigit))
    if not (upper and lower and digit):
        return False
    return entropy(token) >= ENTROPY_LIMIT


def _key_value(m: re.Match[str]) -> str:
    quote = '"' if m.group("dq") is not None else "'" if m.group("sq") is not None else ""
    return f"{m.group('key')}{quote}{HIDDEN}{quote}"


def redact_value(value: str) -> str:
    """Free text with every secret shape replaced by ``<redacted>``: torch's error, a traceback line, a value."""
    value = PRIVATE_KEY.sub(HIDDEN, value)
    value = URL_WITH_USERINFO.sub(_userinfo, value)
    value = USER_PASSWORD_AT_HOST.sub(f"{HIDDEN}@", value)
    value = AUTHORIZATION.sub(lambda m: f"{m.group(1)}{HIDDEN}", value)
    value = BEARER.sub(lambda m: f"{m.group(1)}{HIDDEN}", value)
    value = WEBHOOK.sub(lambda m: f"{m.group(1)}{HIDDEN}", value)
    value = TOKEN_SHAPES.sub(HIDDEN, value)
    value = CURL_USER.sub(lambda m: f"{m.group(1)}{HIDDEN}", value)
    value = OPTION_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", value)
    value = KEY_VALUE_SECRET.sub(_key_value, value)
    if NETRC_CONTEXT.search(value):
        value = NETRC.sub(lambda m: f"{m.group(1)}{HIDDEN}", value)
    return OPAQUE.sub(lambda m: HIDDEN if opaque(m.group(0)) else m.group(0), value)


def _userinfo(m: re.Match[str]) -> str:
    """scheme://CRED@: credentials when CRED has a colon (user:password) or no slash (a user or a token); a slash
    without a colon is a path with an @ in it (git+https://host/org/repo@v1.0), kept."""
    cred = m.group("cred")
    if PLAIN_USER.fullmatch(cred):
        return m.group(0)  # ssh://git@host, https://alice@host: a user name, no secret (identity hides it where shared)
    if ":" in cred or "/" not in cred:
        return f"{m.group('scheme')}{HIDDEN}@"
    return m.group(0)


def env_value(name: str, value: str) -> str | None:
    """The value to record for environment variable ``name``: the value itself when the doctor knows the variable,
    the value fits its grammar (``rules.envvars``) and no secret rule fires on it; None: withhold it."""
    if envvars.fits(name, value) and redact_value(value) == value:
        return value
    return None


PLACEHOLDER = re.compile(r"<(user|host|redacted)>")
"""What redaction puts in place of a name or a secret."""


def pasteable(command: str) -> bool:
    """Whether a command still runs as printed after redaction: ~ for the home does, but a placeholder does not
    (``<user>`` is a shell redirection), so a shared report leaves such a command out."""
    return not PLACEHOLDER.search(command)


LEFT_OUT = (
    "its command is left out here: redaction put a placeholder in it; `torchdoctor check` on that machine prints it"
)

GPU_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")


@dataclass(frozen=True)
class Redactor:
    """Hides identity in text meant to be shared (Markdown, HTML)."""

    user: str
    home: str
    host: str

    @classmethod
    def for_this_machine(cls) -> Redactor:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = ""
        return cls(user=user, home=os.path.expanduser("~"), host=socket.gethostname())

    @classmethod
    def for_facts(cls, host: object) -> Redactor:
        """The identity recorded in a report's host facts (it may come from another machine), else this one's."""
        here = cls.for_this_machine()
        return cls(
            user=getattr(host, "user", "") or here.user,
            home=getattr(host, "home", "") or here.home,
            host=getattr(host, "hostname", "") or here.host,
        )

    def text(self, value: str) -> str:
        if value and value == self.host:
            return "<host>"  # the host name itself (host.hostname), however short: in free text, only longer ones
        value = redact_value(value)
        if self.home and len(self.home) > 1:
            value = value.replace(self.home, "~")
        value = GPU_UUID.sub(lambda m: f"{m.group(1)}-<redacted>", value)
        if self.host and len(self.host) > 2:
            value = re.sub(rf"\b{re.escape(self.host)}\b", "<host>", value)
        if self.user and len(self.user) > 2 and self.user not in {"root", "user"}:
            value = re.sub(rf"\b{re.escape(self.user)}\b", "<user>", value)
        return value


def map_strings(value: T, fn: Callable[[str], str]) -> T:
    """Apply ``fn`` to every string inside a tree of frozen dataclasses, tuples and dicts."""
    if isinstance(value, enum.Enum):  # before str: str-valued enums stay enums
        return value
    if isinstance(value, str):
        return fn(value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: map_strings(getattr(value, f.name), fn) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(map_strings(v, fn) for v in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}  # type: ignore[return-value]
    return value


def redact_report(report: T, identity: Redactor | None = None) -> T:
    """Secrets out of every string of a report; with ``identity``, also who and where."""
    fn = identity.text if identity is not None else redact_value
    return map_strings(report, fn)
