"""The secret detectors and their rule names: one list, shared by the policy and redaction.

* :func:`token_detectors`: detect-secrets' regex plugins (AWS, private keys, GitHub,
  GitLab, Slack, Stripe, JWT, basic-auth URLs, ...) and an Anthropic key pattern (no
  detect-secrets plugin has one). They match token formats: a hit is a real credential
  shape. The policy denies them in what a call writes or runs (runner/policy/secrets.py);
  redaction replaces them in what leaves towards the model (runner/gateway/redact.py).
* :func:`credential_form_detectors`: the credential forms CI leaves behind
  (``Authorization: Basic|Bearer ...`` headers, git ``extraheader`` values, a token as
  the user part of a URL). Redaction only: the policy judges the network use of such a
  value (policies/network.rego), not the value.
* ``IPPublicDetector`` is never used: an IP address is not a credential.
* The entropy and keyword plugins are not regex plugins; the policy loads them on
  request (runner/policy/secrets.py), under the rule names of :data:`RULES` too.

Every finding, denied or redacted, carries :func:`rule_of` the detector: the kebab-case
name of :data:`RULES`, the same in a decision log and in a ``[REDACTED:<rule>]`` mark.
detect-secrets is imported on the first call for detectors (150 ms), not with this module.
"""

from __future__ import annotations

import re
from functools import cache
from re import Pattern
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from detect_secrets.plugins.base import RegexBasedDetector

# detector class name -> rule name
RULES: dict[str, str] = {
    "AWSKeyDetector": "aws-access-key",
    "ArtifactoryDetector": "artifactory-credentials",
    "AzureStorageKeyDetector": "azure-storage-key",
    "BasicAuthDetector": "basic-auth-credentials",
    "CloudantDetector": "cloudant-credentials",
    "DiscordBotTokenDetector": "discord-bot-token",
    "GitHubTokenDetector": "github-token",
    "GitLabTokenDetector": "gitlab-token",
    "IbmCloudIamDetector": "ibm-cloud-iam-key",
    "IbmCosHmacDetector": "ibm-cos-hmac-credentials",
    "JwtTokenDetector": "jwt-token",
    "MailchimpDetector": "mailchimp-access-key",
    "NpmDetector": "npm-token",
    "OpenAIDetector": "openai-token",
    "PrivateKeyDetector": "private-key",
    "PypiTokenDetector": "pypi-token",
    "SendGridDetector": "sendgrid-api-key",
    "SlackDetector": "slack-token",
    "SoftlayerDetector": "softlayer-credentials",
    "SquareOAuthDetector": "square-oauth-secret",
    "StripeDetector": "stripe-access-key",
    "TelegramBotTokenDetector": "telegram-bot-token",
    "TwilioKeyDetector": "twilio-api-key",
    "Base64HighEntropyString": "base64-high-entropy-string",
    "HexHighEntropyString": "hex-high-entropy-string",
    "KeywordDetector": "secret-keyword",
    # the runner's own
    "AnthropicKeyDetector": "anthropic-api-key",
    "AuthorizationHeaderDetector": "authorization-header",
    "GitExtraHeaderDetector": "git-extraheader",
    "URLUserTokenDetector": "url-credentials",
}
EXCLUDED = frozenset({"IPPublicDetector"})  # a public IP is not a secret
# The shortest known value redacted (runner/gateway/redact.py; a setup secret must be this
# long): shorter values would redact ordinary words.
MIN_SECRET_LENGTH = 6


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def rule_of(detector: Any) -> str:
    """The rule name of a detector (an instance or its class)."""
    cls = detector if isinstance(detector, type) else type(detector)
    return RULES.get(cls.__name__) or _kebab(cls.__name__.removesuffix("Detector"))


@cache
def _own() -> tuple[type[RegexBasedDetector], ...]:
    """The runner's own detectors (classes made on first use: detect-secrets' base class
    costs 150 ms to import)."""
    from detect_secrets.plugins.base import RegexBasedDetector

    class AnthropicKeyDetector(RegexBasedDetector):
        """Anthropic API keys (``sk-ant-...``): no detect-secrets plugin covers them."""

        secret_type = "Anthropic API Key"
        denylist: ClassVar[list[Pattern[str]]] = [re.compile(r"\b(sk-ant-[A-Za-z0-9_-]{20,})")]

    class AuthorizationHeaderDetector(RegexBasedDetector):
        """``Authorization: Basic <base64>`` (git's extraheader, curl -H), ``Bearer``, ``token``."""

        secret_type = "Authorization Header"
        denylist: ClassVar[list[Pattern[str]]] = [re.compile(
            r"(?i)\b(?:proxy-)?authorization\s*[:=]\s*[\"']?\s*(?:basic|bearer|token|digest)\s+"
            r"([A-Za-z0-9+/=._~:-]{4,})")]

    class GitExtraHeaderDetector(RegexBasedDetector):
        """The value of a git ``http.extraheader`` (config file line or ``-c`` option): a credential."""

        secret_type = "Git Extraheader"
        denylist: ClassVar[list[Pattern[str]]] = [re.compile(
            r"(?i)\bextraheader\s*=\s*[\"']?\s*([^\s\"'][^\n\"']*)")]

    class URLUserTokenDetector(RegexBasedDetector):
        """A token as the user part of a URL (``https://<token>@host``); ``user:pass@`` is
        detect-secrets' basic-auth detector."""

        secret_type = "URL Credentials"
        denylist: ClassVar[list[Pattern[str]]] = [re.compile(
            r"\b[A-Za-z][A-Za-z0-9+.-]*://([^\s/:@'\"]{16,})@")]

    return (AnthropicKeyDetector, AuthorizationHeaderDetector, GitExtraHeaderDetector,
            URLUserTokenDetector)


def _detect_secrets_regex_plugins() -> list[type[RegexBasedDetector]]:
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        basic_auth,
        cloudant,
        discord,
        github_token,
        gitlab_token,
        ibm_cloud_iam,
        ibm_cos_hmac,
        jwt,
        mailchimp,
        npm,
        openai,
        private_key,
        pypi_token,
        sendgrid,
        slack,
        softlayer,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )
    from detect_secrets.plugins.base import RegexBasedDetector

    modules = (
        artifactory, aws, azure_storage_key, basic_auth, cloudant, discord, github_token,
        gitlab_token, ibm_cloud_iam, ibm_cos_hmac, jwt, mailchimp, npm, openai, private_key,
        pypi_token, sendgrid, slack, softlayer, square_oauth, stripe, telegram_token, twilio,
    )
    return [
        value
        for mod in modules
        for value in vars(mod).values()
        if isinstance(value, type)
        and issubclass(value, RegexBasedDetector)
        and value is not RegexBasedDetector
        and value.__module__ == mod.__name__
        and value.__name__ not in EXCLUDED
    ]


def token_detectors() -> list[RegexBasedDetector]:
    """Token-format detectors (new instances): the policy's and redaction's list."""
    anthropic = _own()[0]
    return [cls() for cls in (*_detect_secrets_regex_plugins(), anthropic)]


def credential_form_detectors() -> list[RegexBasedDetector]:
    """The credential forms CI leaves behind (new instances): redaction only."""
    return [cls() for cls in _own()[1:]]
