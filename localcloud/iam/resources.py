"""IAM resource kinds: the function role, its inline policy, and managed policies."""
from __future__ import annotations

import json

from localcloud.kinds import DeployError, Kind, found, tags_of
from localcloud.iam import callers

class Role(Kind):
    replace_on = ("name",)

    def create(self, cloud, name, i):
        role = cloud.client("iam").create_role(
            RoleName=i["name"], AssumeRolePolicyDocument=i["assumeRolePolicy"],
            Tags=[{"Key": k, "Value": v} for k, v in tags_of(i).items()])["Role"]
        return i["name"], {"arn": role["Arn"], "uniqueId": role["RoleId"]}

    def update(self, cloud, id_, old, i):
        iam = cloud.client("iam")
        iam.update_assume_role_policy(RoleName=id_, PolicyDocument=i["assumeRolePolicy"])
        role = iam.get_role(RoleName=id_)["Role"]
        return {"arn": role["Arn"], "uniqueId": role["RoleId"]}

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("iam").get_role(RoleName=id_), "NoSuchEntity")

    def delete(self, cloud, id_, i):
        iam = cloud.client("iam")
        for policy in iam.list_role_policies(RoleName=id_)["PolicyNames"]:
            iam.delete_role_policy(RoleName=id_, PolicyName=policy)
        iam.delete_role(RoleName=id_)


class RolePolicy(Kind):
    replace_on = ("role", "name")

    def create(self, cloud, name, i):
        policy = i.get("name") or name
        cloud.client("iam").put_role_policy(RoleName=i["role"], PolicyName=policy,
                                            PolicyDocument=i["policy"])
        return f"{i['role']}:{policy}", {"name": policy}

    def update(self, cloud, id_, old, i):
        return self.create(cloud, id_.split(":", 1)[1], i)[1]

    def exists(self, cloud, id_, i):
        role, policy = id_.split(":", 1)
        return found(lambda: cloud.client("iam").get_role_policy(RoleName=role, PolicyName=policy),
                     "NoSuchEntity")

    def delete(self, cloud, id_, i):
        role, policy = id_.split(":", 1)
        cloud.client("iam").delete_role_policy(RoleName=role, PolicyName=policy)


def _document_text(document) -> str:
    # The program may pass the document as JSON text or as a dict.
    return document if isinstance(document, str) else json.dumps(document)


class Policy(Kind):
    """A customer managed policy; its id is its ARN (as the provider's)."""
    replace_on = ("name", "namePrefix", "path", "description")

    def create(self, cloud, name, i):
        arguments = {"PolicyName": i.get("name") or name,
                     "PolicyDocument": _document_text(i["policy"]), "Path": i.get("path") or "/",
                     "Tags": [{"Key": k, "Value": v} for k, v in tags_of(i).items()]}
        if i.get("description"):
            arguments["Description"] = i["description"]
        policy = cloud.client("iam").create_policy(**arguments)["Policy"]
        return policy["Arn"], self._outputs(policy)

    def update(self, cloud, id_, old, i):
        iam = cloud.client("iam")
        # A policy keeps at most 5 versions: the new one becomes the default, the rest go.
        iam.create_policy_version(PolicyArn=id_, PolicyDocument=_document_text(i["policy"]),
                                  SetAsDefault=True)
        for version in iam.list_policy_versions(PolicyArn=id_)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=id_, VersionId=version["VersionId"])
        return self._outputs(iam.get_policy(PolicyArn=id_)["Policy"])

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("iam").get_policy(PolicyArn=id_), "NoSuchEntity")

    def delete(self, cloud, id_, i):
        iam = cloud.client("iam")
        entities = iam.list_entities_for_policy(PolicyArn=id_)
        # The local cloud's own caller users are not the stack's: let go of them (the next
        # ensure_stage_callers attaches the stage's new policy).
        for user in entities["PolicyUsers"]:
            if callers.is_caller_user(user["UserName"]):
                iam.detach_user_policy(UserName=user["UserName"], PolicyArn=id_)
        # AWS refuses to delete a policy attached to anything else (moto does not).
        holders = ([f"user {u['UserName']}" for u in entities["PolicyUsers"]
                    if not callers.is_caller_user(u["UserName"])]
                   + [f"group {g['GroupName']}" for g in entities["PolicyGroups"]]
                   + [f"role {r['RoleName']}" for r in entities["PolicyRoles"]])
        if holders:
            raise DeployError(f"cannot delete policy {id_}: it is attached to "
                              f"{', '.join(holders)} (DeleteConflict); detach it first")
        for version in iam.list_policy_versions(PolicyArn=id_)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=id_, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=id_)

    @staticmethod
    def _outputs(policy: dict) -> dict:
        return {"arn": policy["Arn"], "policyId": policy["PolicyId"],
                "name": policy["PolicyName"]}
