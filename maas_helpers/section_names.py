"""The reconcile sections' names, in order, without importing the sections (the CLI's help text lists them).

`maas_helpers.reconcile.SECTIONS` maps the same names to their functions; tests/unit/test_light_imports.py
keeps the two equal.
"""

SECTION_NAMES = ("organisation", "policy_registry", "backends", "products", "metrics", "mapping_rules",
                 "authentication", "sample_data", "policies", "promote", "plans", "subscriptions_and_apps",
                 "active_docs", "portal", "sso", "prune")
# Sections that only touch each product's own objects, in the order one product goes through them.
PRODUCT_SECTIONS = ("backends", "products", "metrics", "mapping_rules", "authentication", "policies", "promote",
                    "plans")
