"""IAM resource kinds: the function role and its inline policy."""
from __future__ import annotations

from localcloud.engine.kinds import Kind, tags_of

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

    def delete(self, cloud, id_, i):
        role, policy = id_.split(":", 1)
        cloud.client("iam").delete_role_policy(RoleName=role, PolicyName=policy)
