"""The tiny system's spec: settings, one model kind, a router, a CLI group and a demo step."""

from pydantic import Field

from recstack.system import DemoStep, ModelKind, Resource, SystemSettings, SystemSpec


class TinySettings(SystemSettings):
    default_model: str | None = Field("tiny-greeter@champion", description="served by default")
    greeting: str = Field("hello", description="what the demo's model says")


GREETER = ModelKind(name="tiny", loader="tinysys.model:load", metrics=("valid_accuracy",))

SPEC = SystemSpec(
    name="tiny",
    summary="A greeter that exists to test the system plug.",
    settings=TinySettings,
    model_kinds=(GREETER,),
    router="tinysys.router:router",
    cli="tinysys.cli:app",
    demo=DemoStep(title="register a greeter", run="tinysys.model:demo", order=5),
    resources=(Resource(name="counter", factory="tinysys.model:open_counter"),),
)
