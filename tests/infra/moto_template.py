"""The part of a synthesized template that moto's CloudFormation can create (a smoke test, not a deployment).

moto ignores resource types it does not implement, and a ``Custom::`` resource would make it invoke a Lambda
(which needs Docker). :func:`moto_subset` drops both and replaces every ``Ref`` / ``Fn::GetAtt`` to a dropped
resource with a placeholder string, so that everything that depends on one (an ECS task definition naming a
secret, the RDS instance's password reference) is still created. ``docs/DEPLOY.md`` ("What could not be proven
here") lists the dropped types; ``tests/infra/test_moto_deploy.py`` asserts the list is still exact.
"""

from __future__ import annotations

import copy
from typing import Any

MOTO_UNREADABLE = {
    # moto 5.2 reads KMS key tags as TagKey/TagValue (the API's shape), not CloudFormation's Key/Value.
    "AWS::KMS::Key": ("Tags",),
    # moto 5.2 resolves a Ref to an AWS::RDS::DBParameterGroup to its model object, not its name.
    "AWS::RDS::DBInstance": ("DBParameterGroupName",),
}
"""Properties moto's CloudFormation cannot parse, removed from the resource (the resource itself is created)."""


MOTO_NO_GETATT = {"AWS::ElasticLoadBalancingV2::TargetGroup"}
"""Types moto creates but cannot answer ``Fn::GetAtt`` for (the dashboard and alarms read TargetGroupFullName)."""
_NO_GETATT_IDS: set[str] = set()


def supported_types() -> set[str]:
    from moto.cloudformation.parsing import get_model_map

    return set(get_model_map())


def _placeholder(key: str, resource: dict[str, Any]) -> str:
    """What a Ref to a dropped resource stands for: an ARN of the real shape (CDK splits secret ARNs by ':' and '-')."""
    name = resource.get("Properties", {}).get("Name")
    if resource["Type"] == "AWS::SecretsManager::Secret" and isinstance(name, str):
        return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"
    return f"arn:aws:placeholder:us-east-1:123456789012:{key}"


def _replace(node: Any, dropped: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in dropped:
            return dropped[node["Ref"]]
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            name, attr = target if isinstance(target, list) else target.split(".", 1)
            if name in dropped or name in _NO_GETATT_IDS:
                return f"arn:aws:placeholder:us-east-1:123456789012:{name}/{attr}"
        return {k: _replace(v, dropped) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, dropped) for v in node]
    return node


def moto_subset(template: dict[str, Any], supported: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The template without what moto cannot create, and ``{logical id: type}`` of what was left out."""
    resources = template["Resources"]
    dropped = {
        k: r["Type"] for k, r in resources.items() if r["Type"] not in supported or r["Type"].startswith("Custom::")
    }
    placeholders = {k: _placeholder(k, resources[k]) for k in dropped}
    _NO_GETATT_IDS.clear()
    _NO_GETATT_IDS.update(k for k, r in resources.items() if r["Type"] in MOTO_NO_GETATT)
    out = copy.deepcopy(template)
    out["Resources"] = {}
    for key, resource in resources.items():
        if key in dropped:
            continue
        resource = _replace(copy.deepcopy(resource), placeholders)
        for prop in MOTO_UNREADABLE.get(resource["Type"], ()):
            resource.get("Properties", {}).pop(prop, None)
        depends = resource.get("DependsOn")
        if depends:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in dropped]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
        out["Resources"][key] = resource
    out["Outputs"] = _replace(out.get("Outputs", {}), placeholders)
    # CDK's bootstrap-version check (a Rule + an SSM parameter) belongs to a real account.
    out.pop("Rules", None)
    out.get("Parameters", {}).pop("BootstrapVersion", None)
    return out, dropped
