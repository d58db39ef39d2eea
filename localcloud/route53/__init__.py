"""Route 53 resource kinds: record sets (a certificate's validation record, a custom
domain's alias record)."""
