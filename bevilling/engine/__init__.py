"""Rule evaluation engines.

``bevilling.engine.durable_adapter`` is the only module in the project that may import
``durable`` (enforced by import-linter). Import it explicitly where it is needed; this
package ``__init__`` deliberately does not, so that importing a pure-Python sibling module
never loads the C extension.
"""
