"""Typed models of the three manifest kinds, field for field as the manifests spell them.

These pydantic models are the single source of the manifest format: the JSON Schema under
`schemas/` is generated from them (`orc schema`), and documents that pass the schema are turned
into them. Field descriptions become the schema's descriptions, which editors show on hover.

Unlike the other modules, this one does not postpone its annotations (no `from __future__ import
annotations`): pydantic reads each field's type when the class is made, and an annotation that is
already a type spares it compiling and evaluating a string, a fifth of the time these classes take
to make at every start.

An empty list or mapping default is a `default_factory` (`empty_list`, `empty_dict`): pydantic
would deep-copy a `[]` or `{}` default for every document, and the schema shows the factory's value
as the default all the same (`schemagen.py`).
"""

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

API_VERSION = "ollama-reconciler/v1"
KINDS = ("OllamaInstance", "ModelSet", "Fleet")

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"
ENDPOINT_PATTERN = r"^/"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN)]
NonEmpty = Annotated[str, Field(min_length=1)]
Priority = Annotated[int, Field(ge=1, le=10)]
Weight = Annotated[int, Field(ge=1, le=100)]
MaxConcurrent = Annotated[int, Field(ge=1, le=10000)]
EndpointPath = Annotated[str, Field(pattern=ENDPOINT_PATTERN)]


def empty_list() -> list[Any]:
    """A new empty list, the default of list fields.

    A function of our own rather than `list`: pydantic reads each factory's signature when it
    builds a validator, and the signature of a builtin is parsed from text, slowly."""
    return []


def empty_dict() -> dict[str, Any]:
    """A new empty mapping, the default of mapping fields (see `empty_list`)."""
    return {}


EMPTY_FACTORIES = (empty_list, empty_dict)
"""Default factories whose value the schema shows as the default."""


def _schema_duration(value: float | str) -> float | str:
    """Mirror the schema's duration rule exactly (a positive number or a matching string)."""
    if isinstance(value, str):
        if not re.search(DURATION_PATTERN, value):
            raise ValueError("invalid duration")
    elif value <= 0:
        raise ValueError("a duration must be greater than 0")
    return value


def _schema_delay(value: float | str) -> float | str:
    """A duration that may also be 0 (no delay)."""
    if isinstance(value, str) or value != 0:
        return _schema_duration(value)
    return value


Duration = Annotated[
    float | str,
    AfterValidator(_schema_duration),
    WithJsonSchema(
        {
            "type": ["number", "string"],
            "exclusiveMinimum": 0,
            "pattern": DURATION_PATTERN,
            "description": "Seconds (30, 1.5) or a duration such as 30s, 5m, 2h, 1h30m, 500ms.",
        }
    ),
]

Delay = Annotated[
    float | str,
    AfterValidator(_schema_delay),
    WithJsonSchema(
        {
            "type": ["number", "string"],
            "minimum": 0,
            "pattern": DURATION_PATTERN,
            "description": "Seconds (0, 30, 1.5) or a duration such as 30s, 5m; 0: no delay.",
        }
    ),
]


class _Strict(BaseModel):
    """Base of every manifest model: as strict as the generated JSON Schema.

    Strict types, no unknown fields and no explicit nulls: whatever these models accept, the
    schema accepts too (a property test checks it), which lets the loader skip the slower
    schema validation for documents the models accept.

    Each kind's validator is built when a document of that kind is first validated
    (`defer_build`), not at import: a fleet of OllamaInstances never builds the Fleet's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(value is None for value in data.values()):
            raise ValueError("fields must not be null")
        return data


# The manifest's SecretRef, as written; the resolver turns it into a reconciler.desired.SecretRef.
# (Docstrings of these models are the schema's descriptions.)
class SecretRefSpec(_Strict):
    """A secret by reference: exactly one of `env`, `file` or `value`."""

    model_config = ConfigDict(
        title="SecretRef", json_schema_extra={"minProperties": 1, "maxProperties": 1}
    )

    env: Annotated[str, Field(pattern=ENV_NAME_PATTERN)] | None = Field(
        default=None, description="Name of the environment variable that holds the secret."
    )
    file: NonEmpty | None = Field(
        default=None, description="File that holds the secret, relative to this manifest's folder."
    )
    value: str | None = Field(
        default=None,
        description="The secret itself. Discouraged: manifests live in git, so validation warns.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretRefSpec":
        if sum(v is not None for v in (self.env, self.file, self.value)) != 1:
            raise ValueError("a SecretRef needs exactly one of env, file or value")
        return self


class Metadata(_Strict):
    """Name and labels of an OllamaInstance or a ModelSet."""

    name: DnsLabel = Field(
        description=(
            "A DNS label (lowercase letters, digits, '-'), unique among documents of this kind."
        )
    )
    labels: dict[str, str] = Field(
        default_factory=empty_dict, description="Labels that ModelSet selectors match."
    )


class FleetMetadata(_Strict):
    """Name and labels of the Fleet."""

    name: DnsLabel = Field(default="default", description="A DNS label naming the fleet.")
    labels: dict[str, str] = Field(default_factory=empty_dict, description="Free-form labels.")


class TLS(_Strict):
    """TLS options; files are relative to this manifest's folder."""

    verify: bool = Field(
        default=True, description="Verify the server certificate (false only for testing)."
    )
    caFile: NonEmpty | None = Field(
        default=None, description="PEM file of the CA that signed the server certificate."
    )
    clientCert: NonEmpty | None = Field(
        default=None, description="PEM client certificate for mutual TLS (needs clientKey)."
    )
    clientKey: NonEmpty | None = Field(
        default=None, description="PEM private key of the client certificate."
    )


class Auth(_Strict):
    """How requests authenticate to the server."""

    bearerToken: SecretRefSpec = Field(description="Sent as `Authorization: Bearer <token>`.")


class Endpoints(_Strict):
    """Path overrides relative to the instance url, for servers behind a proxy."""

    health: EndpointPath | None = Field(default=None, description="Liveness probe (default `/`).")
    version: EndpointPath | None = Field(default=None, description="Default `/api/version`.")
    listModels: EndpointPath | None = Field(
        default=None, description="Model inventory (default `/api/tags`)."
    )
    show: EndpointPath | None = Field(default=None, description="Default `/api/show`.")
    ps: EndpointPath | None = Field(default=None, description="Loaded models (default `/api/ps`).")
    pull: EndpointPath | None = Field(default=None, description="Default `/api/pull`.")
    delete: EndpointPath | None = Field(default=None, description="Default `/api/delete`.")
    copy_: EndpointPath | None = Field(
        default=None, alias="copy", description="Default `/api/copy`."
    )
    create: EndpointPath | None = Field(default=None, description="Default `/api/create`.")
    chat: EndpointPath | None = Field(default=None, description="Default `/api/chat`.")
    generate: EndpointPath | None = Field(default=None, description="Default `/api/generate`.")
    embed: EndpointPath | None = Field(default=None, description="Default `/api/embed`.")


class ModelSpec(_Strict):
    """A model an instance should have, or (state: absent) should not have."""

    name: str = Field(
        description="Ollama model name, e.g. `llama3.2:3b`; `llama3` means `llama3:latest`."
    )
    state: Literal["present", "absent"] = Field(
        default="present", description="`present` pulls or creates it, `absent` deletes it."
    )
    keepLoaded: bool = Field(default=False, description="Keep the model loaded in memory.")
    from_: str | None = Field(
        default=None,
        alias="from",
        description=(
            "Build a custom model with /api/create from this base model, or from a local GGUF "
            "file when the value starts with ./, ../, / or ~/ (relative to this manifest's "
            "folder, inside the manifests' folders); a changed file re-creates the model."
        ),
    )
    update: Literal["manual", "auto"] = Field(
        default="manual",
        description=(
            "`manual`: `orc plan --check-updates` only reports a newer build in the registry; "
            "`auto`: the registry is asked on every plan and apply pulls a newer build."
        ),
    )
    system: str | None = Field(default=None, description="System prompt of a custom model.")
    template: str | None = Field(default=None, description="Prompt template of a custom model.")
    parameters: dict[str, Any] = Field(
        default_factory=empty_dict,
        description="Parameters of a custom model, e.g. num_ctx, temperature, stop.",
    )


class SmokeTestSpec(_Strict):
    """A chat test that `orc chat-test --all` runs."""

    model: str = Field(description="Model to chat with.")
    prompt: NonEmpty = Field(description="Message sent as the user.")
    expect: str | None = Field(
        default=None, description="Python regular expression the reply must match."
    )
    timeout: Duration | None = Field(default=None, description="Time allowed for the whole reply.")


class InstanceSpec(_Strict):
    """What one Ollama server should look like."""

    url: NonEmpty = Field(
        description=(
            "Base URL, http or https, possibly with a path prefix; no credentials (user:pass@). "
            "Two enabled instances must not reach the same server."
        )
    )
    enabled: bool = Field(
        default=True,
        description="When false the instance is observed and reported but never changed.",
    )
    priority: Priority = Field(
        default=5, description="1..10, lower is preferred when choosing a server for chat."
    )
    weight: Weight = Field(
        default=1,
        description="1..100: how strongly chats prefer this instance among instances of the same "
        "priority (2 takes twice the requests of 1 while both have room; the Fleet API also "
        "learns each one's speed).",
    )
    maxConcurrent: MaxConcurrent | None = Field(
        default=None,
        description="At most this many chats at once from one client (Fleet API, chat-test); "
        "more go to the next priority.",
    )
    timeout: Duration = Field(default="30s", description="Timeout of ordinary requests.")
    pullTimeout: Duration = Field(default="2h", description="Timeout of one model pull.")
    tls: TLS | None = Field(default=None, description="TLS options.")
    auth: Auth | None = Field(default=None, description="Authentication.")
    headers: dict[str, str | SecretRefSpec] = Field(
        default_factory=empty_dict,
        description=(
            "Extra request headers: a plain value or a SecretRef. Headers that carry credentials "
            "(Authorization, Proxy-Authorization, Cookie, or a name containing auth, apikey, "
            "accesskey, token, secret, passw, credential, session or cookie, ignoring - and _) "
            "must be SecretRefs."
        ),
    )
    endpoints: Endpoints | None = Field(default=None, description="Path overrides.")
    modelSets: list[DnsLabel] = Field(
        default_factory=empty_list,
        description="ModelSets applied by name (besides those whose selector matches).",
    )
    models: list[ModelSpec] = Field(
        default_factory=empty_list, description="Models of this instance."
    )
    prune: bool = Field(
        default=False,
        description="Delete models that no manifest declares (protected ones excepted).",
    )
    protect: list[NonEmpty] = Field(
        default_factory=empty_list, description="Globs of model names never deleted by prune."
    )
    smoke: list[SmokeTestSpec] = Field(default_factory=empty_list, description="Chat tests.")


class OllamaInstance(_Strict):
    """One Ollama server."""

    apiVersion: Literal["ollama-reconciler/v1"]
    kind: Literal["OllamaInstance"]
    metadata: Metadata
    spec: InstanceSpec


class Selector(_Strict):
    """Which instances a ModelSet applies to; an empty selector matches every instance."""

    matchLabels: dict[str, str] = Field(
        default_factory=empty_dict, description="Labels an instance must all carry."
    )


class ModelSetSpec(_Strict):
    """A list of models shared by many instances."""

    selector: Selector | None = Field(
        default=None,
        description="Instances whose labels match (without it, only instances naming the set).",
    )
    models: list[ModelSpec] = Field(
        default_factory=empty_list, description="Models every matching instance gets."
    )


class ModelSet(_Strict):
    """One list of models for many instances."""

    apiVersion: Literal["ollama-reconciler/v1"]
    kind: Literal["ModelSet"]
    metadata: Metadata
    spec: ModelSetSpec


class FleetDefaults(_Strict):
    """Settings applied to every instance that does not set them."""

    timeout: Duration | None = Field(
        default=None, description="Default timeout of ordinary requests (30s)."
    )
    pullTimeout: Duration | None = Field(
        default=None, description="Default timeout of one model pull (2h)."
    )
    priority: Priority | None = Field(default=None, description="Default priority (5).")
    tls: TLS | None = Field(default=None, description="Default TLS options, merged field by field.")
    headers: dict[str, str | SecretRefSpec] = Field(
        default_factory=empty_dict,
        description=(
            "Headers sent to every instance (an instance's own header of the same name wins); "
            "headers that carry credentials must be SecretRefs."
        ),
    )


class SafetySpec(_Strict):
    """Guards against destructive plans."""

    allowEmpty: bool = Field(
        default=False, description="Allow a plan that leaves an instance with no models."
    )
    maxDeletions: Annotated[int, Field(ge=0)] = Field(
        default=10, description="Refuse a plan with more deletions than this."
    )


EventName = Literal["drift", "failure", "recovery", "applied", "refused", "invalid"]
EVENT_KINDS: tuple[EventName, ...] = (
    "drift",
    "failure",
    "recovery",
    "applied",
    "refused",
    "invalid",
)


class ReceiverSpec(_Strict):
    """A webhook that `orc watch` (and `orc apply --notify`) tells about events."""

    name: DnsLabel | None = Field(
        default=None,
        description="Names the receiver in /status, /metrics and logs (default: receiver-N, "
        "N its position from 1).",
    )
    url: NonEmpty | SecretRefSpec = Field(
        description="Webhook URL (http or https), or a SecretRef holding it: Slack and Teams "
        "webhook URLs are credentials."
    )
    format: Literal["generic", "slack", "teams", "alertmanager"] = Field(
        default="generic",
        description="generic: orc's JSON (schemas/notification.v1.schema.json); slack and "
        "teams: incoming-webhook messages; alertmanager: alerts for /api/v2/alerts.",
    )
    events: list[Literal["drift", "failure", "recovery", "applied", "refused", "invalid"]] = Field(
        default=list(EVENT_KINDS),
        min_length=1,
        description="What to tell (default: all): drift (changed by hand), failure (an "
        "action failed or an instance became unreachable), recovery, applied (a reconcile "
        "changed something), refused (a guard refused a plan), invalid (a broken edit).",
    )
    instances: Selector | None = Field(
        default=None,
        description="Only events of instances whose labels match (fleet-wide events always).",
    )
    repeatInterval: Duration = Field(
        default="1h",
        description="The same event of the same instance is told at most once in this time.",
    )


class SyncWindowSpec(_Strict):
    """When the actions it covers may (allow) or may not (deny) be carried out; Argo CD's model."""

    name: DnsLabel | None = Field(
        default=None,
        description="Names the window in plans, logs and status (default: `<kind>-<position>`, "
        "e.g. `deny-1`).",
    )
    kind: Literal["allow", "deny"] = Field(
        description="`deny`: hold the actions back while open. `allow`: carry them out only while "
        "an allow window is open. Deny wins."
    )
    schedule: NonEmpty = Field(
        description="When the window opens: a 5-field cron expression (minute hour day-of-month "
        "month day-of-week, e.g. `0 9 * * 1-5`) or @daily, @weekly, ...; read in timeZone."
    )
    duration: Duration = Field(description="How long the window stays open, e.g. 8h, 30m.")
    timeZone: NonEmpty = Field(
        default="UTC", description="IANA time zone of the schedule, e.g. Europe/Berlin."
    )
    actions: Annotated[list[Literal["pull", "create", "load", "delete"]], Field(min_length=1)] = (
        Field(
            default=["pull", "create", "load", "delete"],
            description="The actions the window rules over (default: all four).",
        )
    )
    instances: Selector | None = Field(
        default=None, description="The instances the window rules over (default: every one)."
    )


class FleetSpec(_Strict):
    """Fleet-wide settings."""

    defaults: FleetDefaults | None = Field(default=None, description="Defaults for every instance.")
    parallelism: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None,
        description=(
            "At most this many instances worked on at once. Default: every instance, at most "
            "64 requests in flight (pulls and creates run on the servers)."
        ),
    )
    interval: Duration = Field(
        default="5m", description="How often `orc watch` re-plans without a manifest change."
    )
    safety: SafetySpec | None = Field(default=None, description="Guards against destructive plans.")
    pruneDelay: Delay = Field(
        default="30s",
        description=(
            "How long `orc watch --mode apply` holds deletions caused by a manifest change "
            "before planning again and deleting what is still to be deleted (0: no delay)."
        ),
    )
    notifications: list[ReceiverSpec] = Field(
        default_factory=empty_list,
        description="Webhooks told about drift, failures, recoveries, applies, refused plans "
        "and broken edits, by `orc watch` and `orc apply --notify`.",
    )
    syncWindows: list[SyncWindowSpec] = Field(
        default_factory=empty_list,
        description="When `orc apply` and `orc watch --mode apply` may carry out which actions; "
        "held actions are planned and shown, not made.",
    )


# A `kind: Fleet` document; not reconciler.Fleet, the chat API over a whole fleet.
class FleetDocument(_Strict):
    """Fleet-wide settings; at most one per fleet, every field optional."""

    model_config = ConfigDict(title="Fleet")

    apiVersion: Literal["ollama-reconciler/v1"]
    kind: Literal["Fleet"]
    metadata: FleetMetadata | None = None
    spec: FleetSpec | None = None


# The published schema names models by the manifest's words, not by these classes' names.
SCHEMA_NAMES = {FleetDocument.__name__: "Fleet", SecretRefSpec.__name__: "SecretRef"}

Manifest = OllamaInstance | ModelSet | FleetDocument
MODEL_BY_KIND: dict[str, type[OllamaInstance] | type[ModelSet] | type[FleetDocument]] = {
    "OllamaInstance": OllamaInstance,
    "ModelSet": ModelSet,
    "Fleet": FleetDocument,
}
