"""CloudWatch Logs resource kinds: log groups."""
from __future__ import annotations

from localcloud.kinds import Kind, tags_of

class LogGroup(Kind):
    replace_on = ("name",)
    # Creating a group that exists fails as on AWS (moto raises the same
    # ResourceAlreadyExistsException); the deployer then says how to adopt it.
    exists_note = ("Lambda creates /aws/lambda/{function} when a function of that name is "
                   "first invoked, and keeps it after the function is gone")

    def import_id(self, i):
        # The provider's import id of a log group is its name (`pulumi import
        # aws:cloudwatch/logGroup:LogGroup NAME /aws/lambda/fn`, the registry's example).
        return i["name"]

    def create(self, cloud, name, i):
        logs = cloud.client("logs")
        logs.create_log_group(logGroupName=i["name"], tags=tags_of(i))
        self.update(cloud, i["name"], {}, i)
        return i["name"], {"arn": f"arn:aws:logs:{cloud.region}:{cloud.account_id}:"
                                  f"log-group:{i['name']}"}

    def update(self, cloud, id_, old, i):
        logs = cloud.client("logs")
        if i.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=id_, retentionInDays=int(i["retentionInDays"]))
        else:
            logs.delete_retention_policy(logGroupName=id_)
        return {"arn": f"arn:aws:logs:{cloud.region}:{cloud.account_id}:log-group:{id_}"}

    def exists(self, cloud, id_, i):
        pages = cloud.client("logs").get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=id_)
        return any(group["logGroupName"] == id_ for page in pages for group in page["logGroups"])

    def delete(self, cloud, id_, i):
        cloud.client("logs").delete_log_group(logGroupName=id_)
