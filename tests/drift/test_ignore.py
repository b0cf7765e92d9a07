"""`.driftignore` semantics, case by case, ported from driftctl's own tests (pkg/filter/driftignore_test.go).

driftctl cases that rely on a lone type (``*``, ``type``) are ported with the explicit ``TYPE.*`` form this
module requires; the difference itself is tested in the "deliberate differences" section.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.drift.ignore import (
    IgnoreMatcher,
    IgnoreRule,
    escape_id,
    format_rule,
    load_driftignore,
    parse_driftignore,
    render_driftignore,
    rule_from_text,
)


def matcher(text: str) -> IgnoreMatcher:
    return IgnoreMatcher(parse_driftignore(text))


def resources_ignored(m: IgnoreMatcher, resources: list[tuple[str, str]]) -> list[bool]:
    return [m.ignores_resource(t, i) for t, i in resources]


# --- driftctl's TestDriftIgnore_IsResourceIgnored -------------------------------------------------------


def test_no_file_means_no_rules(tmp_path: Path) -> None:
    rules = load_driftignore(tmp_path / "missing" / ".driftignore")
    assert rules == []
    assert IgnoreMatcher(rules).ignores_resource("type1", "id1") is False


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / ".driftignore"
    path.write_text("")
    assert load_driftignore(path) == []


def test_valid_file() -> None:
    m = matcher(
        "ignored_resource.id2\n"
        "wildcard_resource.*\n"
        "resource_type.id\\.with\\.dots\n"
        "resource_type.idwith\\\\\n"
        "resource_type.idwith\\\\backslashes\n"
        "resource_type.idwith/slashes\n"
        "\n"
    )
    resources = [
        ("type1", "id1"),
        ("wildcard_resource", "id1/with/slash"),
        ("wildcard_resource", "id1"),
        ("wildcard_resource", "id2"),
        ("wildcard_resource", "id3"),
        ("ignored_resource", "id2"),
        ("resource_type", "id.with.dots"),
        ("resource_type", "idwith\\"),
        ("resource_type", "idwith\\backslashes"),
        ("resource_type", "idwith/slashes"),
    ]
    assert resources_ignored(m, resources) == [False] + [True] * 9


def test_wildcards() -> None:
    m = matcher("*2**.**d1*\ntype3.id1***0\n*.id\\\\WithBa*slas*\\\\**\\\\\n\n# this is *** comment\n")
    resources = [
        ("type1", "id1"),
        ("type2", "id1"),
        ("type2", "id11"),
        ("type2", "id2"),
        ("type3", "id100"),
        ("type3", "id101"),
        ("type4", "id\\WithBac*slash***\\*\\"),
    ]
    assert resources_ignored(m, resources) == [False, True, True, False, True, False, True]


ALL_EXCLUDE_RESOURCES = [
    ("type1", "id1"),
    ("type2", "id1"),
    ("type2", "id11"),
    ("type2", "id2"),
    ("type3", "id100"),
    ("type3", "id101"),
    ("iam_user", "id\\WithBac*slash***\\*\\"),
    ("some_type", "idwith/slash"),
    ("some_type", "idwith/slash/"),
]
ALL_EXCLUDE_WANT = [True, True, True, True, True, True, False, False, True]


def test_ignore_all_but_negated() -> None:
    m = matcher("*.*\n!iam_user.*\n!some_type.idwith/slash\n")
    assert resources_ignored(m, ALL_EXCLUDE_RESOURCES) == ALL_EXCLUDE_WANT


def test_ignore_all_but_negated_from_cli_patterns() -> None:
    m = IgnoreMatcher(rule_from_text(text) for text in ["*.*", "!iam_user.*", "!some_type.idwith/slash"])
    assert resources_ignored(m, ALL_EXCLUDE_RESOURCES) == ALL_EXCLUDE_WANT


def test_negation_alone_ignores_nothing() -> None:
    assert matcher("!*.*").ignores_resource("aws_s3_access_point", "ap") is False


# --- driftctl's TestDriftIgnore_IsTypeIgnored, as resource rules ----------------------------------------


def test_ignore_everything_but_s3() -> None:
    m = matcher("*.*\n!aws_s3*.*\n")
    types = ["aws_s3_access_point", "aws_s3_bucket", "aws_s3_bucket_acl", "aws_route53_delegation_set"]
    assert [m.ignores_resource(t, "x") for t in types] == [False, False, False, True]
    m = matcher("*.*\n!aws_s3*.*\n!aws_route53*.*\n")
    assert [m.ignores_resource(t, "x") for t in types] == [False, False, False, False]


def test_type_wildcard_with_one_type_excluded() -> None:
    m = matcher("type_*.*\n!type_not_ignored.*\n")
    assert m.ignores_resource("type_ignored", "a") is True
    assert m.ignores_resource("type_not_ignored", "a") is False


def test_everything_but_named_resources() -> None:
    m = matcher("*.*\n!aws_iam_policy_attachment.foobar\n!azurerm_route.barfoo\n")
    assert m.ignores_resource("aws_iam_policy_attachment", "foobar") is False
    assert m.ignores_resource("aws_iam_policy_attachment", "other") is True
    assert m.ignores_resource("azurerm_route", "barfoo") is False


# --- driftctl 0.11's TestDriftIgnore_IsFieldIgnored -----------------------------------------------------

FIELDS_FILE = (
    "res_type.full_drift_ignored.json\n"
    "res_type.full_drift_ignored.foobar\n"
    "res_type.partial_drift_ignored.foobar\n"
    "res_type.wildcard_drift_ignored.*.baz\n"
    "res_type.endofpath_drift_ignored.struct\n"
    "resource_type.id\\.with\\.dots.json\n"
    "resource_type.idwith\\\\.json\n"
    "resource_type.idwith\\\\backslashes.foobar\n"
)

FIELD_CASES = [
    ("res_type", "full_drift_ignored", "json"),
    ("res_type", "full_drift_ignored", "foobar"),
    ("res_type", "partial_drift_ignored", "json"),
    ("res_type", "partial_drift_ignored", "foobar"),
    ("resource_type", "id.with.dots", "json"),
    ("resource_type", "idwith\\", "json"),
    ("resource_type", "idwith\\backslashes", "json"),
    ("resource_type", "idwith\\backslashes", "foobar"),
    ("res_type", "wildcard_drift_ignored", "struct.baz"),
    ("res_type", "wildcard_drift_ignored", "struct.bar"),
    ("res_type", "endofpath_drift_ignored", "struct.baz"),
    ("res_type", "endofpath_drift_ignored", "struct.bar"),
]


def test_field_rules() -> None:
    m = matcher(FIELDS_FILE)
    got = [m.ignores_field(t, i, p) for t, i, p in FIELD_CASES]
    assert got == [True, True, False, True, True, True, False, True, True, False, True, True]
    assert not any(m.ignores_resource(t, i) for t, i, _ in FIELD_CASES), "field rules never hide a resource"


def test_field_negation_under_ignore_all() -> None:
    m = matcher("*.*\n!*.*.*.bar\n")
    got = [m.ignores_field(t, i, p) for t, i, p in FIELD_CASES]
    assert got == [True] * 9 + [False, True, False]


def test_no_rules_ignore_no_field() -> None:
    m = IgnoreMatcher([])
    assert m.ignores_field("type1", "id1", "Id") is False
    assert m.has_field_rules("type1", "id1") is False
    assert m.explain("type1", "id1") is None


# --- syntax: comments, blank lines, whitespace, escapes ---------------------------------------------------


def test_comments_blank_lines_and_whitespace() -> None:
    rules = parse_driftignore(
        "# a comment\n"
        "   # an indented comment\n"
        "\n"
        "   \t\n"
        "  aws_s3_bucket.a  \n"
        "aws_s3_bucket.b\r\n"
        "\ufeffaws_s3_bucket.c\n"
        "!  aws_s3_bucket.d\n"
    )
    assert [(r.pattern, r.negate, r.line) for r in rules] == [
        ("aws_s3_bucket.a", False, 5),
        ("aws_s3_bucket.b", False, 6),
        ("\ufeffaws_s3_bucket.c", False, 7),
        ("aws_s3_bucket.d", True, 8),
    ]


def test_byte_order_mark_at_start_is_dropped() -> None:
    rules = parse_driftignore("\ufeffaws_s3_bucket.a\n")
    assert rules[0].type_literal == "aws_s3_bucket"


def test_escaped_trailing_space_is_kept() -> None:
    rule = rule_from_text("aws_x.id\\  ")
    assert rule.pattern == "aws_x.id\\ "
    assert rule.id_literal == "id "


def test_hash_inside_a_rule_is_literal() -> None:
    m = matcher("aws_x.a#b\naws_x.c\\ #d\n")
    assert m.ignores_resource("aws_x", "a#b")
    assert m.ignores_resource("aws_x", "c #d")


def test_escapes() -> None:
    rule = rule_from_text(r"t.a\.b\*c\?d\[e\\f\g")
    assert rule.id_literal == "a.b*c?d[e\\fg"
    m = IgnoreMatcher([rule])
    assert m.ignores_resource("t", "a.b*c?d[e\\fg")
    assert not m.ignores_resource("t", "a.bXc?d[e\\fg")


def test_star_runs_collapse_and_cross_dots_slashes_and_colons() -> None:
    m = matcher("aws_iam_policy_attachment.*-arn:aws:iam::aws:policy/***\n")
    assert m.ignores_resource("aws_iam_policy_attachment", "Role-arn:aws:iam::aws:policy/service-role/X.y")
    assert not m.ignores_resource("aws_iam_policy_attachment", "Role-arn:aws:iam::123:policy/X")


def test_question_mark_and_character_classes() -> None:
    m = matcher("t.id?\nt.x[0-2]\nt.y[!0-2]\nt.z[^a]\nt.w[]]\nt.v[-a]\nt.u[\\]]\n")
    assert m.ignores_resource("t", "id1") and not m.ignores_resource("t", "id12")
    assert m.ignores_resource("t", "x1") and not m.ignores_resource("t", "x3")
    assert m.ignores_resource("t", "y3") and not m.ignores_resource("t", "y1")
    assert m.ignores_resource("t", "zb") and not m.ignores_resource("t", "za")
    assert m.ignores_resource("t", "w]")
    assert m.ignores_resource("t", "v-") and m.ignores_resource("t", "va")
    assert m.ignores_resource("t", "u]")


def test_matching_is_case_sensitive() -> None:
    m = matcher("aws_s3_bucket.MyBucket\naws_sg.sg-1.tags.Name\n")
    assert not m.ignores_resource("aws_s3_bucket", "mybucket")
    assert not m.ignores_field("aws_sg", "sg-1", "tags.name")


def test_rule_parts() -> None:
    rule = rule_from_text(r"!aws_sg.sg\.1.tags.Na*")
    assert (rule.type_glob, rule.id_glob, rule.path_globs) == ("aws_sg", r"sg\.1", ("tags", "Na*"))
    assert (rule.type_literal, rule.id_literal, rule.negate, rule.is_field_rule) == ("aws_sg", "sg.1", True, True)
    assert str(rule) == rule.text == r"!aws_sg.sg\.1.tags.Na*"


# --- meaning: negation order, field rules -------------------------------------------------------------------


def test_last_matching_rule_wins() -> None:
    assert matcher("aws_s3_bucket.*\n!aws_s3_bucket.keep\n").ignores_resource("aws_s3_bucket", "keep") is False
    assert matcher("!aws_s3_bucket.keep\naws_s3_bucket.*\n").ignores_resource("aws_s3_bucket", "keep") is True
    m = matcher("aws_s3_bucket.a\n!aws_s3_bucket.a\naws_s3_bucket.a\n")
    assert m.ignores_resource("aws_s3_bucket", "a") is True
    assert m.explain("aws_s3_bucket", "a").line == 3


def test_literal_and_wildcard_rules_interleave_in_order() -> None:
    m = matcher("t.a\n!t.*\nt.b\n!t.?\n")
    assert m.ignores_resource("t", "a") is False
    assert m.ignores_resource("t", "b") is False
    assert m.ignores_resource("t", "bb") is False
    m = matcher("!t.*\nt.a\n")
    assert m.ignores_resource("t", "a") is True


def test_field_rule_covers_the_path_below_it() -> None:
    m = matcher("aws_security_group.sg-123.tags\n")
    assert m.ignores_field("aws_security_group", "sg-123", "tags")
    assert m.ignores_field("aws_security_group", "sg-123", "tags.Name")
    assert not m.ignores_field("aws_security_group", "sg-123", "tagsX")
    assert not m.ignores_field("aws_security_group", "sg-123", "ingress")
    assert not m.ignores_field("aws_security_group", "sg-456", "tags")
    assert not m.ignores_resource("aws_security_group", "sg-123")


def test_field_wildcards() -> None:
    m = matcher("aws_security_group.*.tags.Name\naws_instance.i-1.tag*\naws_lb.*.*.port\n")
    assert m.ignores_field("aws_security_group", "sg-9", "tags.Name")
    assert not m.ignores_field("aws_security_group", "sg-9", "tags.Owner")
    assert m.ignores_field("aws_instance", "i-1", "tags_all.Name")
    assert m.ignores_field("aws_lb", "lb", "listener.0.port")


def test_resource_rules_cover_every_field_both_ways() -> None:
    m = matcher("aws_sg.*\n")
    assert m.ignores_field("aws_sg", "sg-1", "anything.at.all")
    m = matcher("aws_sg.*.tags\n!aws_sg.sg-1\n")
    assert not m.ignores_field("aws_sg", "sg-1", "tags")
    assert m.ignores_field("aws_sg", "sg-2", "tags")
    m = matcher("!aws_sg.sg-1\naws_sg.*.tags\n")
    assert m.ignores_field("aws_sg", "sg-1", "tags")


def test_field_negation() -> None:
    m = matcher("aws_sg.sg-1.tags\n!aws_sg.sg-1.tags.Name\n")
    assert m.ignores_field("aws_sg", "sg-1", "tags.Owner")
    assert not m.ignores_field("aws_sg", "sg-1", "tags.Name")
    assert m.explain("aws_sg", "sg-1", "tags.Name").negate


def test_has_field_rules() -> None:
    m = matcher("aws_sg.sg-1.tags\naws_s3_bucket.gone\n!aws_vpc.*\naws_vpc.v.tags\n!aws_vpc.v\n*.*.description\n")
    assert m.has_field_rules("aws_sg", "sg-1")
    assert m.has_field_rules("aws_sg", "sg-2"), "*.*.description applies to every resource"
    assert m.has_field_rules("aws_s3_bucket", "gone"), "an ignored resource has every field ignored"
    m = matcher("aws_sg.sg-1.tags\n!aws_vpc.*\naws_vpc.v.tags\n!aws_vpc.v\n")
    assert not m.has_field_rules("aws_sg", "sg-2")
    assert not m.has_field_rules("aws_vpc", "v"), "the later negation covers every field of aws_vpc.v"
    assert not m.has_field_rules("aws_s3_bucket", "b")


def test_explain_returns_the_deciding_rule() -> None:
    rules = parse_driftignore("aws_s3_bucket.*\n!aws_s3_bucket.keep\naws_s3_bucket.keep.tags\n", source="f")
    m = IgnoreMatcher(rules)
    assert m.explain("aws_s3_bucket", "other") is rules[0]
    assert m.explain("aws_s3_bucket", "keep") is rules[1]
    assert m.explain("aws_s3_bucket", "keep", "tags.Name") is rules[2]
    assert m.explain("aws_s3_bucket", "keep", "versioning") is rules[1]
    assert m.explain("aws_iam_user", "u") is None
    assert rules[2].location == "f:3"


# --- deliberate differences from driftctl -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "hint"), [("aws_s3_bucket", "'aws_s3_bucket.*'"), ("*", "'*.*'"),
                                            ("!aws_s3*", "'!aws_s3*.*'")])
def test_a_lone_type_is_an_error_with_the_fix_as_hint(text: str, hint: str) -> None:
    with pytest.raises(ConfigError, match="has a type but no id") as info:
        rule_from_text(text)
    assert hint in (info.value.hint or "")


def test_globs_do_not_cross_part_boundaries() -> None:
    m = matcher("*.foo\nt.a.b\n")
    assert m.ignores_resource("x", "foo")
    assert not m.ignores_resource("x", "a.foo")
    assert not m.ignores_resource("t", "a.b"), "an unescaped dot is a separator: field b of t.a"
    assert m.ignores_field("t", "a", "b")


def test_slash_is_an_ordinary_character() -> None:
    m = matcher("t.a/b\n")
    assert m.ignores_resource("t", "a/b")
    assert not m.ignores_resource("t", "a_-_b")


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("foobar", "has a type but no id"),
        ("4(\"è-(_ç'è-ç'(\"", "has a type but no id"),
        (".id", "has an empty type"),
        ("aws_x.", "has an empty id"),
        ("aws_x.a..b", "has an empty attribute name"),
        ("aws_x.a.b.", "has an empty attribute name"),
        (".", "has an empty type"),
        ("\\", "ends with a lone backslash"),
        ("\\\\", "has a type but no id"),
        ("aws_x.a\\", "ends with a lone backslash"),
        ("aws_x.a[bc", "unclosed '\\[' character class"),
        ("aws_x.[[:alpha:]]", "POSIX class"),
        ("aws_iam_role.baz # created manually", "comments must be on a line of their own"),
        ("!", "'!' with no rule after it"),
    ],
)
def test_invalid_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / ".driftignore"
    path.write_text(f"# header\nignored_resource.id2\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as info:
        load_driftignore(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert info.value.exit_code == 2


def test_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / ".driftignore"
    path.write_bytes(b"aws_x.a\naws_x.b\xff\n")
    with pytest.raises(ConfigError, match=r"not valid UTF-8 \(byte 0xff at column 8\)") as info:
        load_driftignore(path)
    assert str(info.value).startswith(f"{path}:2: ")


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read ignore file") as info:
        load_driftignore(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_rule_from_text_errors_name_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^database: rule 'aws_x' has a type but no id"):
        rule_from_text("aws_x", source="database")
    with pytest.raises(ConfigError, match="is empty, not a rule"):
        rule_from_text("   ")
    with pytest.raises(ConfigError, match="is a comment, not a rule"):
        rule_from_text("# aws_x.a")
    with pytest.raises(ConfigError, match="single line"):
        rule_from_text("aws_x.a\naws_x.b")


def test_rule_constructed_directly_is_validated() -> None:
    rule = IgnoreRule(pattern="aws_s3_bucket.b", negate=True, source="database")
    assert rule.location == "database" and rule.id_literal == "b"
    assert rule == IgnoreRule("aws_s3_bucket.b", True, "database")
    assert hash(rule) == hash(IgnoreRule("aws_s3_bucket.b", True, "database"))
    for bad in ["aws_s3_bucket", " aws_s3_bucket.b", "!aws_s3_bucket.b", "#aws_s3_bucket.b", ""]:
        with pytest.raises(ConfigError, match=r"^database: "):
            IgnoreRule(pattern=bad, negate=False, source="database")


# --- escaping and formatting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terraform_id", "escaped"),
    [
        ("my.bucket", "my\\.bucket"),
        ("arn:aws:iam::aws:policy/aws-service-role/AmazonRDSServiceRolePolicy",
         "arn:aws:iam::aws:policy/aws-service-role/AmazonRDSServiceRolePolicy"),
        ("/subscriptions/0000/resourceGroups/rg", "/subscriptions/0000/resourceGroups/rg"),
        ("a*b?c[d]e", "a\\*b\\?c\\[d]e"),
        ("back\\slash", "back\\\\slash"),
        (" lead trail ", "\\ lead\\ trail\\ "),
        ("!#x", "!#x"),
    ],
)
def test_escape_id(terraform_id: str, escaped: str) -> None:
    assert escape_id(terraform_id) == escaped
    m = IgnoreMatcher(parse_driftignore(format_rule("t", terraform_id)))
    assert m.ignores_resource("t", terraform_id)


def test_format_rule_and_its_errors() -> None:
    assert format_rule("aws_security_group", "sg-123", "tags.Name") == "aws_security_group.sg-123.tags.Name"
    assert format_rule("aws_s3_bucket", "my.bucket", "tags.a*b") == "aws_s3_bucket.my\\.bucket.tags.a\\*b"
    assert format_rule("aws_s3_bucket", "b", "") == "aws_s3_bucket.b"
    assert format_rule("!odd", "b") == "\\!odd.b"
    for args in [("", "b"), ("t", ""), ("t", "b", "tags..x"), ("t", "a\nb")]:
        with pytest.raises(ValueError):
            format_rule(*args)


def test_render_driftignore() -> None:
    entries = [
        ("aws_sg", "sg-2", None),
        ("aws_sg", "sg-1", "tags.Name"),
        ("aws_sg", "sg-1", None),
        ("aws_s3_bucket", "my.bucket", None),
        ("aws_sg", "sg-1", None),
        ("aws_sg", "sg-1", ""),
    ]
    text = render_driftignore(entries, header="accepted drift\nreviewed 2024-05-01")
    assert text == (
        "# accepted drift\n"
        "# reviewed 2024-05-01\n"
        "\n"
        "aws_s3_bucket.my\\.bucket\n"
        "aws_sg.sg-1\n"
        "aws_sg.sg-1.tags.Name\n"
        "aws_sg.sg-2\n"
    )
    m = IgnoreMatcher(parse_driftignore(text))
    assert m.ignores_resource("aws_s3_bucket", "my.bucket")
    assert m.ignores_field("aws_sg", "sg-1", "tags.Name")
    assert render_driftignore([]) == ""
    assert render_driftignore([], header="only") == "# only\n"


ID_CHARS = st.sampled_from(list("abcXYZ019-_.*?[]\\/:!# \t=@,+é漢"))
TERRAFORM_IDS = st.text(ID_CHARS, min_size=1, max_size=24)
TERRAFORM_TYPES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
PATHS = st.none() | st.lists(st.text(st.sampled_from(list("abN_01*?[\\ #")), min_size=1, max_size=6),
                             min_size=1, max_size=4).map(".".join)


@given(TERRAFORM_TYPES, TERRAFORM_IDS, PATHS)
def test_format_rule_round_trips(terraform_type: str, terraform_id: str, path: str | None) -> None:
    [rule] = parse_driftignore(format_rule(terraform_type, terraform_id, path))
    assert (rule.type_literal, rule.id_literal, rule.negate) == (terraform_type, terraform_id, False)
    m = IgnoreMatcher([rule])
    if path is None:
        assert m.ignores_resource(terraform_type, terraform_id)
        assert not m.ignores_resource(terraform_type, terraform_id + "x")
    else:
        assert not m.ignores_resource(terraform_type, terraform_id)
        assert m.ignores_field(terraform_type, terraform_id, path)
        assert m.ignores_field(terraform_type, terraform_id, path + ".child")
        assert not m.ignores_field(terraform_type, terraform_id, path + "x")
    assert m.explain(terraform_type, terraform_id, path) is rule


@settings(max_examples=40)
@given(st.lists(st.tuples(TERRAFORM_TYPES, TERRAFORM_IDS, PATHS), max_size=8))
def test_rendered_file_ignores_every_entry(entries: list[tuple[str, str, str | None]]) -> None:
    m = IgnoreMatcher(parse_driftignore(render_driftignore(entries, header="generated")))
    for terraform_type, terraform_id, path in entries:
        if path is None:
            assert m.ignores_resource(terraform_type, terraform_id)
        else:
            assert m.ignores_field(terraform_type, terraform_id, path)


# --- scale ------------------------------------------------------------------------------------------------------------


def test_many_rules_answer_correctly_at_scale() -> None:
    lines = [f"aws_type_{n}.id-{n}-*" for n in range(200)]
    lines += [f"aws_s3_bucket.bucket-{n}" for n in range(500)] + ["!aws_s3_bucket.bucket-7", "*_lambda_*.tmp-*"]
    m = matcher("\n".join(lines))
    ids = [f"bucket-{n}" for n in range(100_000)]
    ignored = sum(m.ignores_resource("aws_s3_bucket", i) for i in ids)
    ignored += sum(m.ignores_resource("aws_instance", i) for i in ids)
    assert ignored == 499
    empty = IgnoreMatcher([])
    assert not any(empty.ignores_resource("aws_s3_bucket", i) for i in ids[:1000])
