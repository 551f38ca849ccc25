"""The Kubernetes CEL libraries, function by function, as rules call them (valid and error cases)."""

from __future__ import annotations

import time
from typing import Any

import cel
import pytest

from infleet.apiserver.cel_library import FUNCTIONS, error_text, undeclared_functions
from infleet.apiserver.cel_rules import compile_validations, evaluate


def run(expression: str, **variables: Any) -> Any:
    return cel.evaluate(expression, cel.Context(variables, FUNCTIONS))


def fails(expression: str, **variables: Any) -> str:
    """The error text a rule's cause would show for ``expression``."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the cel package raises RuntimeError or ValueError
        run(expression, **variables)
    return error_text(str(raised.value))


def all_true(*expressions: str) -> None:
    for expression in expressions:
        assert run(expression) is True, expression


# ---- lists --------------------------------------------------------------------------------------


def test_list_library() -> None:
    all_true(
        "[1, 2, 2, 3].isSorted() && !['b', 'a'].isSorted() && [].isSorted()",
        "[1, 2, 3].sum() == 6 && [1.5, 2.5].sum() == 4.0 && [].sum() == 0 && ['a', 'b'].sum() == 'ab'",
        "[3, 1, 2].min() == 1 && [3, 1, 2].max() == 3 && ['b', 'a'].min() == 'a'",
        "[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2 && [1].indexOf(5) == -1",
        "[true, 1].indexOf(1) == 1",  # bool and int are different values in CEL
        "'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3",  # the string overloads still work
        "[duration('1s'), duration('2s')].sum() == duration('3s')",
    )


def test_list_library_errors() -> None:
    assert fails("[].min()") == "min called on empty list"
    assert fails("[].max()") == "max called on empty list"
    assert fails("[9223372036854775807, 1].sum()") == "integer overflow"
    assert fails("[1, 'a'].isSorted()").startswith("no such overload")
    assert fails("{'a': 1}.indexOf(1)") == "no such overload: indexOf(map)"


# ---- regex and strings --------------------------------------------------------------------------


def test_regex_library() -> None:
    all_true(
        "'abc 123 de 45'.find('[0-9]+') == '123' && 'abc'.find('[0-9]+') == ''",
        "'abc 123 de 45'.findAll('[0-9]+') == ['123', '45']",
        "'a1b2c3'.findAll('[0-9]', 2) == ['1', '2'] && 'a1'.findAll('[0-9]', 0) == []",
    )
    assert run("'baaa'.findAll('a*')") == ["", "aaa"]  # Go drops an empty match abutting the previous one
    assert fails("'x'.find(')')") == "error parsing regexp: unexpected ): `)`"
    assert fails("'x'.find('(a)\\\\1')") == "error parsing regexp: invalid escape sequence: `\\1`"


def test_regex_matching_takes_linear_time() -> None:
    # A backtracking engine takes minutes over this; RE2 answers at once.
    started = time.monotonic()
    assert run("self.find('(a+)+$')", self="a" * 5000 + "b") == ""
    assert time.monotonic() - started < 2


def test_extended_strings() -> None:
    all_true(
        "'hello'.charAt(1) == 'e' && 'HeLLo'.lowerAscii() == 'hello' && 'a'.upperAscii() == 'A'",
        "'a-b-c'.replace('-', '.') == 'a.b.c' && 'a,b'.split(',') == ['a', 'b']",
        "'hello'.substring(1, 3) == 'el' && '  x '.trim() == 'x' && ['a', 'b'].join('/') == 'a/b'",
        "strings.quote('a\"b') == '\"a\\\\\"b\"'",
        "'%s has %d replicas at %.2f'.format(['web', 3, 0.5]) == 'web has 3 replicas at 0.50'",
        "'%s'.format([['a', 1]]) == '[\"a\", 1]' && '%x %o %b %%'.format([255, 8, 5]) == 'ff 10 101 %'",
    )
    assert fails("'%d'.format(['a'])").startswith("error during formatting: decimal clause")
    assert fails("'%s %s'.format(['a'])") == "index 1 out of range"
    assert fails("'x'.charAt(5)").startswith("charAt: index 5 out of range")


# ---- URLs ---------------------------------------------------------------------------------------


def test_url_library() -> None:
    all_true(
        "isURL('https://example.com:8443/a/b?x=1&x=2&y=') && isURL('/just/a/path') && !isURL('example.com')",
        "url('https://example.com:8443/a').getScheme() == 'https'",
        "url('https://example.com:8443/a').getHost() == 'example.com:8443'",
        "url('https://example.com:8443/a').getHostname() == 'example.com'",
        "url('https://example.com:8443/a').getPort() == '8443' && url('https://example.com').getPort() == ''",
        "url('https://[::1]:80/').getHost() == '[::1]:80' && url('https://[::1]:80/').getHostname() == '::1'",
        "url('https://example.com/a%20b').getEscapedPath() == '/a%20b'",
        "url('https://e.com/?x=1&x=2&y=').getQuery() == {'x': ['1', '2'], 'y': ['']}",
        "url('/p').getScheme() == '' && url('/p').getHost() == ''",
        "url('https://u:p@k.io:80/docs?k1=a&k2=b&k2=c#top').getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}",
        "url('https://u:p@k.io:80/docs?k1=a#top').getEscapedPath() == '/docs' && !isURL('https://a:b:c/')",
        "url('https://a.com/x') == url('https://a.com/x')",
    )


def test_url_errors() -> None:
    assert fails("url('example.com')") == (
        'URL parse error during conversion from string: parse "example.com": invalid URI for request'
    )
    assert "invalid port" in fails("url('https://a.com:http/')")
    assert "invalid control character" in fails("url('https://a.com/\\n')")
    assert fails("url(1)") == "no such overload: url(int)"
    assert fails("'https://a.com'.getHost()") == "no such overload: getHost(string)"


# ---- IPs and CIDRs ------------------------------------------------------------------------------


def test_ip_library() -> None:
    all_true(
        "isIP('10.0.0.1') && isIP('2001:db8::1') && !isIP('10.0.0') && !isIP('::ffff:1.2.3.4')",
        "!isIP('fe80::1%eth0') && !isIP('010.0.0.1')",
        "ip('10.0.0.1').family() == 4 && ip('::1').family() == 6",
        "ip('::1') == ip('0:0::1') && string(ip('2001:DB8::1')) == '2001:db8::1'",
        "ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1') && !ip.isCanonical('2001:db8:0::1')",
        "ip('0.0.0.0').isUnspecified() && ip('::').isUnspecified() && !ip('::1').isUnspecified()",
        "ip('127.0.0.2').isLoopback() && ip('::1').isLoopback() && !ip('10.0.0.1').isLoopback()",
        "ip('224.0.0.5').isLinkLocalMulticast() && ip('ff02::1').isLinkLocalMulticast()",
        "!ip('224.0.1.5').isLinkLocalMulticast()",
        "ip('169.254.1.1').isLinkLocalUnicast() && ip('fe80::1').isLinkLocalUnicast()",
        # Go counts private addresses as global unicast; Python's is_global would not.
        "ip('10.0.0.1').isGlobalUnicast() && ip('8.8.8.8').isGlobalUnicast()",
        "!ip('255.255.255.255').isGlobalUnicast() && !ip('224.0.0.1').isGlobalUnicast()",
    )


def test_ip_errors() -> None:
    assert fails("ip('10.0.0')") == (
        'IP Address "10.0.0" parse error during conversion from string: '
        'ParseAddr("10.0.0"): IPv4 address too short'
    )
    assert fails("ip('::ffff:1.2.3.4')") == 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'
    assert fails("ip('fe80::1%eth0')") == 'IP address "fe80::1%eth0" with zone value is not allowed'
    assert fails("ip('1.2.3.256')").endswith('ParseAddr("1.2.3.256"): IPv4 field has value >255')
    assert fails("ip(1)") == "no such overload: ip(int)"
    assert fails("ip('1.2.3.4').prefixLength()") == "no such overload: prefixLength(net.IP)"


def test_cidr_library() -> None:
    all_true(
        "isCIDR('10.0.0.0/8') && isCIDR('10.1.2.3/8') && !isCIDR('10.0.0.0') && !isCIDR('10.0.0.0/33')",
        "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3')) && cidr('10.0.0.0/8').containsIP('10.1.2.3')",
        "!cidr('10.0.0.0/8').containsIP('11.0.0.1') && !cidr('::/0').containsIP('1.2.3.4')",
        "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16') && !cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8')",
        "cidr('10.0.0.0/8').containsCIDR(cidr('10.0.0.0/8'))",
        "cidr('10.1.2.3/8').prefixLength() == 8 && cidr('10.1.2.3/8').ip() == ip('10.1.2.3')",
        "cidr('10.1.2.3/8').masked() == cidr('10.0.0.0/8') && cidr('10.1.2.3/8') != cidr('10.0.0.0/8')",
        "string(cidr('10.1.2.3/8').masked()) == '10.0.0.0/8'",
        "string(cidr('2001:db8::/32')) == '2001:db8::/32'",
        "cidr('2001:db8::/32').ip().family() == 6",
    )
    twice = "network address parse error during conversion from string: " * 2
    assert fails("cidr('10.0.0.0/')") == twice + 'netip.ParsePrefix("10.0.0.0/"): bad bits after slash: ""'
    assert (
        fails("cidr('10.0.0.0/33')") == twice + 'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range'
    )
    assert fails("cidr('10.0.0.0')") == twice + "netip.ParsePrefix(\"10.0.0.0\"): no '/'"
    assert fails("cidr('::ffff:1.2.3.4/120')") == (
        "network address parse error during conversion from string: "
        'IPv4-mapped IPv6 address "::ffff:1.2.3.4/120" is not allowed'
    )


# ---- quantities ---------------------------------------------------------------------------------


def test_quantity_library() -> None:
    all_true(
        "isQuantity('500m') && isQuantity('16Gi') && isQuantity('1e3') && isQuantity('-1.5')",
        "!isQuantity('1x') && !isQuantity('') && !isQuantity('Infinity') && !isQuantity('1_000')",
        "quantity('1Gi').isGreaterThan(quantity('500Mi')) && quantity('1').isLessThan(quantity('1001m'))",
        "quantity('1') == quantity('1000m') && quantity('1Ki') == quantity('1024')",
        "quantity('1Gi').compareTo(quantity('1024Mi')) == 0 && quantity('1').compareTo(quantity('2')) == -1",
        "quantity('-3').sign() == -1 && quantity('0').sign() == 0 && quantity('2m').sign() == 1",
        "quantity('2').isInteger() && !quantity('500m').isInteger() && quantity('2k').asInteger() == 2000",
        "quantity('1.5').asApproximateFloat() == 1.5",
        "quantity('1').add(quantity('500m')) == quantity('1500m') && quantity('1').add(2) == quantity('3')",
        "quantity('1').sub(quantity('500m')) == quantity('500m') && quantity('1').sub(1).sign() == 0",
    )


def test_quantity_errors() -> None:
    assert fails("quantity('1x')") == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    assert fails("quantity('500m').asInteger()") == "cannot convert value to integer"
    assert fails("quantity('10Ei').asInteger()") == "cannot convert value to integer"
    assert fails("quantity('1').isGreaterThan(1)") == "no such overload: compareTo(int)"
    assert fails("'1'.isGreaterThan('2')") == "no such overload: isGreaterThan(string)"


# ---- semver and formats -------------------------------------------------------------------------


def test_semver_library() -> None:
    all_true(
        "isSemver('1.2.3') && isSemver('1.2.3-rc.1+build.5') && !isSemver('v1.2') && isSemver('v1.2', true)",
        "semver('1.2.3').major() == 1 && semver('1.2.3').minor() == 2 && semver('1.2.3').patch() == 3",
        "semver('1.10.0').isGreaterThan(semver('1.9.0')) && semver('1.0.0-rc.1').isLessThan(semver('1.0.0'))",
        "semver('1.0.0-alpha.2').isLessThan(semver('1.0.0-alpha.10'))",
        "semver('v2', true) == semver('2.0.0') && semver('1.2.3+a').compareTo(semver('1.2.3+b')) == 0",
    )
    assert fails("semver('01.2.3')") == 'Major number must not contain leading zeroes "01"'
    assert fails("semver('1.2')") == "No Major.Minor.Patch elements found"
    assert fails("semver('1.2-rc', true)") == "short version cannot contain PreRelease/Build meta data"
    assert fails("semver('1.2.3-01')") == 'Numeric PreRelease version must not contain leading zeroes "01"'
    assert run("semver('1.2.3+a') == semver('1.2.3+b') && semver('v01.02', true) == semver('1.2.0')") is True


def test_format_library() -> None:
    all_true(
        "!format.dns1123Label().validate('my-name').hasValue()",
        "format.dns1123Label().validate('My_Name').hasValue()",
        "format.dns1123Label().validate('a.b').value() == ['must not contain dots']",
        "!format.dns1123Subdomain().validate('example.com').hasValue()",
        "format.dns1035Label().validate('1abc').hasValue()",
        "!format.dns1035Label().validate('abc').hasValue()",
        "!format.qualifiedName().validate('example.com/My.Name').hasValue()",
        "format.qualifiedName().validate('/x').value() == ['prefix part must be non-empty']",
        "!format.labelValue().validate('').hasValue() && format.labelValue().validate('-x').hasValue()",
        "!format.dns1123LabelPrefix().validate('web-').hasValue()",
        "format.dns1123Label().validate('web-').hasValue()",
        "!format.uuid().validate('123e4567-e89b-12d3-a456-426614174000').hasValue()",
        "format.uuid().validate('nope').hasValue() && format.byte().validate('*').hasValue()",
        "!format.date().validate('2024-02-29').hasValue() && format.date().validate('2023-02-29').hasValue()",
        "!format.datetime().validate('2024-01-01T10:00:00Z').hasValue()",
        "format.uri().validate('x').value() == ['parse \"x\": invalid URI for request']",
        "format.byte().validate('aGVsbG8').value() == ['invalid base64']",
        "!format.byte().validate('aGVsbG8=').hasValue()",
        "format.datetime().validate('2020-01-32T00:00:00Z').value() == ['invalid datetime']",
        "!format.datetime().validate('2020-01-01T10:00:00').hasValue()",
        "!format.uuid().validate('0123456789abcdef0123456789ABCDEF').hasValue()",
        "format.named('dns1123Label').hasValue() && !format.named('nope').hasValue()",
        "format.named('labelValue').value().validate('ok').orValue(['bad']) == ['bad']",
    )
    message = run("format.dns1123Label().validate('Web').value()[0]")
    assert message == (
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
        "regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    )


# ---- compiling ----------------------------------------------------------------------------------


def test_library_values_are_not_user_data() -> None:
    # A library value is a map with integer keys; JSON data never has those, so it never passes for one.
    assert fails("self.family()", self={"0": "net.IP", "1": "1.2.3.4"}) == "no such overload: family(map)"


def test_unknown_functions_are_refused_when_the_rule_compiles() -> None:
    assert undeclared_functions(["_+_", "@in", "size", "isURL", "dns1123Label", "nosuch"]) == ["nosuch"]
    schema = {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.name.isDNSName()"},
            {
                "rule": "isURL(self.name) && ip.isCanonical(self.name) "
                "&& format.uuid().validate(self.name) == optional.none()"
            },
        ],
        "properties": {"name": {"type": "string"}},
    }
    causes = compile_validations(schema).causes
    assert [(cause.field, cause.message) for cause in causes] == [
        (
            "x-kubernetes-validations[0].rule",
            'Invalid value: "self.name.isDNSName()": compilation failed: '
            "ERROR: <input>: undeclared reference to 'isDNSName' (in container '')",
        )
    ]


def test_a_rule_runs_with_the_functions_it_and_its_message_expression_call() -> None:
    schema = {
        "type": "object",
        "properties": {
            "address": {
                "type": "string",
                "x-kubernetes-validations": [
                    {"rule": "isIP(self)", "messageExpression": "self.upperAscii() + ' is not an IP'"}
                ],
            }
        },
    }
    compiled = compile_validations(schema)
    assert compiled.root is not None
    rule = compiled.root.properties["address"].rules[0]
    assert set(rule.functions) == {"isIP", "upperAscii"}
    outcome = evaluate(compiled, {"address": "abc"}, None)
    assert [(c.field, c.message) for c in outcome.causes] == [
        ("address", 'Invalid value: "string": ABC is not an IP')
    ]
    assert evaluate(compiled, {"address": "10.0.0.1"}, None).causes == []
