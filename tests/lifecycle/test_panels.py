"""The account panel registry: lower apps add panels, the page renders them in order."""

from lifecycle import panels


def test_panels_render_in_order_and_a_key_registers_once(monkeypatch):
    monkeypatch.setattr(panels, "_panels", {})
    panels.register_account_panel(
        "late", title="Late", order=50, template="b.html", context=lambda r, a: {"n": a}
    )
    panels.register_account_panel("early", title="Old", order=5, template="a.html", context=dict)
    panels.register_account_panel(  # a repeated ready() replaces, never duplicates
        "early", title="Early", order=5, template="a.html", context=lambda r, a: {}
    )
    rendered = panels.render_context(None, 7)
    assert [(p["key"], p["title"], p["data"]) for p in rendered] == [
        ("early", "Early", {}),
        ("late", "Late", {"n": 7}),
    ]


def test_health_registers_the_usage_panel():
    assert "usage" in [p.key for p in panels.account_panels()]
