"""CloudWatch Logs resource kinds: log groups."""
from __future__ import annotations

from localcloud.kinds import Kind, tags_of

class LogGroup(Kind):
    replace_on = ("name",)

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
