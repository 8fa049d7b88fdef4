#!/usr/bin/env python3
"""Chat-template references for hedgehog's Jinja engine, rendered with Python jinja2 exactly as
transformers' apply_chat_template renders them.

Writes, under tests/fixtures/templates/:
  <case>.json   the inputs (template file, messages, tools, flags, special tokens) and, for a
                case that must fail, the expected error text
  <case>.txt    the rendered text (cases that render)
  snippets.json small templates with their context and output (or error), covering
                expressions, filters, tests, methods, loops, macros, scoping and whitespace

Usage (from the repository root; needs python3-jinja2):
  python3 tools/make_template_reference.py
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "templates")

# strftime_now reads this fixed local time, so references do not depend on the day they are made;
# the C++ tests fix their clock to the same moment.
FIXED_NOW = datetime.datetime(2025, 7, 26, 10, 30, 0)


class TemplateError(Exception):
    pass


def make_env():
    """The environment of transformers' _compile_jinja_template."""

    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render_case(env, case):
    with open(os.path.join(OUT, case["template"]), encoding="utf-8") as f:
        source = f.read()
    kwargs = {}
    # apply_chat_template passes the special tokens the tokenizer has, then the template kwargs.
    for key in ("bos_token", "eos_token"):
        if case.get(key) is not None:
            kwargs[key] = case[key]
    if "enable_thinking" in case:
        kwargs["enable_thinking"] = case["enable_thinking"]
    return env.from_string(source).render(
        messages=case["messages"], tools=case.get("tools"), documents=None,
        add_generation_prompt=case.get("add_generation_prompt", True), **kwargs)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city — temperature in °C",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 1},
                "precision": {"type": "number", "default": 0.5},
                "units": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SUM_TOOL = {
    "type": "function",
    "function": {
        "name": "sum_of_first_n_integers",
        "description": "Sum of 1..n",
        "parameters": {"type": "object", "properties": {"n": {"type": "integer"}},
                       "required": ["n"]},
    },
}

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


def qwen3_cases():
    tool_chat = [
        SYSTEM,
        {"role": "user", "content": "What is the weather in Zürich and the sum 1..10?"},
        {"role": "assistant", "content": "",
         "tool_calls": [
             {"type": "function", "function": {"name": "get_weather",
                                               "arguments": {"city": "Zürich", "days": 2}}},
             {"type": "function", "function": {"name": "sum_of_first_n_integers",
                                               "arguments": "{\"n\": 10}"}}]},
        {"role": "tool", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
        {"role": "tool", "content": "55"},
        {"role": "assistant", "content": "It is 21.5 °C and clear in Zürich; 1+…+10 = 55."},
        {"role": "user", "content": "Thanks!"},
    ]
    multi_step = [
        {"role": "user", "content": "Sum 1..3, then 1..4."},
        {"role": "assistant", "content": "<think>\nFirst call.\n</think>\n\nCalling the tool.",
         "tool_calls": [{"function": {"name": "sum_of_first_n_integers",
                                      "arguments": {"n": 3}}}]},
        {"role": "tool", "content": "<tool_response>6</tool_response>"},
        {"role": "assistant", "content": "",
         "reasoning_content": "Second call.",
         "tool_calls": [{"function": {"name": "sum_of_first_n_integers",
                                      "arguments": {"n": 4}}}]},
        {"role": "tool", "content": "10"},
    ]
    return {
        "qwen3_single_user": {"messages": [{"role": "user", "content": "Hello, world"}]},
        "qwen3_system_multi_turn": {"messages": [
            SYSTEM,
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "7"},
            {"role": "user", "content": "Another one?"},
            {"role": "assistant", "content": "11"},
            {"role": "user", "content": "Their product?"}]},
        "qwen3_reasoning_content": {"messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Simple arithmetic."},
            {"role": "user", "content": "And 3+3?"},
            {"role": "assistant", "content": "\n6", "reasoning_content": "\nAgain simple.\n"}],
            "add_generation_prompt": False},
        "qwen3_think_in_content": {"messages": [
            {"role": "user", "content": "Say hi"},
            {"role": "assistant", "content": "<think>\nThe user wants a greeting.\n</think>\n\nHi!"},
            {"role": "user", "content": "Again, 日本語で"},
            {"role": "assistant",
             "content": "<think>\n挨拶します 👋\n</think>\n\nこんにちは！"}],
            "add_generation_prompt": False},
        "qwen3_tools": {"messages": [SYSTEM, {"role": "user", "content": "Weather in Paris?"}],
                        "tools": [WEATHER_TOOL, SUM_TOOL]},
        "qwen3_tools_no_system": {"messages": [{"role": "user", "content": "Sum 1..5"}],
                                  "tools": [SUM_TOOL]},
        "qwen3_tool_calls": {"messages": tool_chat, "tools": [WEATHER_TOOL, SUM_TOOL]},
        "qwen3_multi_step_tool": {"messages": multi_step, "tools": [SUM_TOOL]},
        "qwen3_thinking_off": {"messages": [{"role": "user", "content": "Quick answer: 2*21?"}],
                               "enable_thinking": False},
        "qwen3_thinking_on": {"messages": [{"role": "user", "content": "Think: 2*21?"}],
                              "enable_thinking": True},
        "qwen3_no_generation_prompt": {"messages": [
            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
            "add_generation_prompt": False},
        "qwen3_tool_calls_thinking_off": {"messages": tool_chat[:5], "tools": [WEATHER_TOOL],
                                          "enable_thinking": False},
    }


def other_cases():
    chat = [{"role": "user", "content": "  Hello there  "},
            {"role": "assistant", "content": "General Kenobi!"},
            {"role": "user", "content": "Tell me a joke about \"quotes\" & <tags>."}]
    return {
        "llama3_basic": {"template": "llama3.jinja", "messages": chat,
                         "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        "llama3_system": {"template": "llama3.jinja", "messages": [SYSTEM] + chat[:1],
                          "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        "gemma3_basic": {"template": "gemma3.jinja", "messages": chat, "bos_token": "<bos>",
                         "eos_token": "<end_of_turn>"},
        "gemma3_system_parts": {"template": "gemma3.jinja", "bos_token": "<bos>",
                                "messages": [
                                    {"role": "system", "content": [{"type": "text",
                                                                    "text": "Be brief."}]},
                                    {"role": "user", "content": [
                                        {"type": "image"},
                                        {"type": "text", "text": " What is this? "}]}],
                                "add_generation_prompt": False},
        "gemma3_bad_roles": {"template": "gemma3.jinja", "bos_token": "<bos>",
                             "messages": [{"role": "user", "content": "a"},
                                          {"role": "user", "content": "b"}]},
        "deepseek_v3_basic": {"template": "deepseek_v3.jinja", "messages": [SYSTEM] + chat,
                              "bos_token": "<｜begin▁of▁sentence｜>",
                              "eos_token": "<｜end▁of▁sentence｜>"},
        "deepseek_v3_tools": {"template": "deepseek_v3.jinja",
                              "bos_token": "<｜begin▁of▁sentence｜>",
                              "messages": [
                                  {"role": "user", "content": "Sum 1..3 and 1..4"},
                                  {"role": "assistant", "content": None, "tool_calls": [
                                      {"type": "function", "function": {
                                          "name": "sum_of_first_n_integers",
                                          "arguments": "{\"n\": 3}"}},
                                      {"type": "function", "function": {
                                          "name": "sum_of_first_n_integers",
                                          "arguments": "{\"n\": 4}"}}]},
                                  {"role": "tool", "content": "6"},
                                  {"role": "tool", "content": "10"},
                                  {"role": "assistant", "content": "6 and 10."}]},
        "chatml_basic": {"template": "chatml.jinja", "messages": [SYSTEM] + chat},
        "chatml_no_generation_prompt": {"template": "chatml.jinja", "messages": chat[:2],
                                        "add_generation_prompt": False},
        "mistral_style_basic": {"template": "mistral_style.jinja", "messages": [SYSTEM] + chat,
                                "bos_token": "<s>", "eos_token": "</s>"},
        "mistral_style_tools": {"template": "mistral_style.jinja", "bos_token": "<s>",
                                "eos_token": "</s>", "tools": [WEATHER_TOOL],
                                "messages": [{"role": "user", "content": "Weather?"}]},
        "mistral_style_bad_roles": {"template": "mistral_style.jinja", "bos_token": "<s>",
                                    "eos_token": "</s>",
                                    "messages": [{"role": "assistant", "content": "x"}]},
        "llama31_style_basic": {"template": "llama31_style.jinja",
                                "bos_token": "<|begin_of_text|>",
                                "messages": [SYSTEM, {"role": "user", "content": " Hi "}]},
        "llama31_style_tools": {"template": "llama31_style.jinja",
                                "bos_token": "<|begin_of_text|>",
                                "tools": [WEATHER_TOOL, SUM_TOOL],
                                "messages": [
                                    {"role": "user", "content": "Weather in Oslo?"},
                                    {"role": "assistant", "tool_calls": [{"function": {
                                        "name": "get_weather",
                                        "arguments": {"units": "celsius", "city": "Oslo"}}}]},
                                    {"role": "tool", "content": {"temperature": -3.5}},
                                    {"role": "tool", "content": "plain text"}]},
    }


# Snippets: (template, context). The context is merged over BASE_CONTEXT.
BASE_CONTEXT = {
    "xs": [3, 1, 2], "s": "Héllo, Wörld", "n": 7, "f": 2.5, "nothing": None, "yes": True,
    "d": {"b": 1, "a": [1, 2], "items": "shadowed"},
    "users": [{"name": "bob", "age": 31, "tags": ["x"]}, {"name": "Alice", "age": 25},
              {"name": "carol", "age": 31, "admin": True}],
    "text": "  line one\nline two  \n\nline four ",
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
                 {"role": "assistant", "content": "<think>a</think>\n\nb"}],
}

SNIPPETS = [
    # literals and printing
    "{{ 1 }}|{{ -3 }}|{{ 1.0 }}|{{ 1e-5 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.1 + 0.2 }}|{{ 123.456e2 }}",
    "{{ 'a' 'b' }}|{{ \"q\\\"x\" }}|{{ 'tab\\there' }}|{{ '\\u00e9\\x41\\101' }}|{{ 'a\\qb' }}",
    "{{ none }}|{{ None }}|{{ true }}|{{ False }}|{{ nothing }}|{{ [] }}|{{ {} }}",
    "{{ [1, 'a', none, true, 1.5, [2]] }}|{{ {'k': \"it's\", 1: 2} }}|{{ (1,) }}|{{ (1, 2) }}|{{ () }}",
    "{{ 'it\\'s' }}|{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'nl\\n', '\\x00'] }}",
    "{{ 0x1F }}|{{ 0o17 }}|{{ 0b101 }}|{{ 1_000 }}|{{ 1_0.5 }}",
    # arithmetic
    "{{ 3/2 }}|{{ 4/2 }}|{{ 7//2 }}|{{ -7//2 }}|{{ 7%3 }}|{{ -7%3 }}|{{ 7%-3 }}|{{ 2**10 }}|{{ 2**-1 }}|{{ 2**3**2 }}",
    "{{ 7.5//2 }}|{{ -7.5%2 }}|{{ 1 + 2.0 }}|{{ true + 1 }}|{{ 'ab' * 3 }}|{{ [1] * 3 }}|{{ 3 * 'x' }}",
    "{{ 1 + 2 * 3 - 4 }}|{{ (1 + 2) * 3 }}|{{ -2 ** 2 }}|{{ - n }}|{{ +n }}|{{ 10 - 2 - 3 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ undefined_thing ~ 1.5 }}|{{ 'x' + 'y' }}|{{ [1] + [2, 3] }}",
    "{{ 1 / 0 }}",
    "{{ 'a' + 1 }}",
    "{{ undefined_thing + 1 }}",
    "{{ -'x' }}",
    # comparisons and logic
    "{{ 1 == 1.0 }}|{{ 1 == true }}|{{ 'a' < 'b' }}|{{ [1, 2] < [1, 3] }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}",
    "{{ 1 != 2 }}|{{ none == none }}|{{ undefined_thing == undefined_other }}|{{ 'a' == 'a' }}|{{ {'a': 1} == {'a': 1} }}",
    "{{ 1 and 'x' }}|{{ 0 and 'x' }}|{{ 0 or '' }}|{{ '' or 'y' }}|{{ not 0 }}|{{ not not 'a' }}",
    "{{ 'ell' in s }}|{{ 2 in xs }}|{{ 'a' in d }}|{{ 'z' not in d }}|{{ 5 not in xs }}|{{ 'x' in undefined_thing }}",
    "{{ 1 < 'a' }}",
    "{{ 1 in 'abc' }}",
    "{{ 'yes' if n > 5 else 'no' }}|{{ 'yes' if n > 50 }}|{{ 'a' if false else 'b' if true else 'c' }}",
    # attribute, item, slicing
    "{{ d.b }}|{{ d['b'] }}|{{ d.a[1] }}|{{ d.a.0 }}|{{ d.missing }}|{{ d['items'] }}|{{ d.items() | list }}",
    "{{ xs[0] }}|{{ xs[-1] }}|{{ xs[5] }}|{{ s[0] }}|{{ s[1] }}|{{ s[-1] }}|{{ s[100] }}",
    "{{ xs[::-1] }}|{{ xs[1:] }}|{{ xs[:-1] }}|{{ xs[::2] }}|{{ xs[5:] }}|{{ xs[-10:10] }}|{{ xs[2:0:-1] }}",
    "{{ s[::-1] }}|{{ s[1:4] }}|{{ s[-5:] }}|{{ s[::3] }}|{{ s[10:2:-2] }}|{{ 'héllo'[1] }}",
    "{{ messages[1:] | length }}|{{ messages[-1].content }}|{{ messages[0]['role'] }}",
    "{{ undefined_thing.attr }}",
    "{{ d.missing.deeper }}",
    "{{ nothing.attr }}|{{ n.nosuch }}|{{ (n.nosuch).x is defined }}",
    "{{ xs[1.5] }}|{{ d[0] }}",
    "{{ xs[::0] }}",
    "{{ n[1:] }}",
    "{{ d[1:] }}",
    "{{ 'it\\'s 1e+20 o\\'neil-smith (x) [y] <z> {w} ABC' | title }}|{{ 'mIxEd woRDS' | title }}",
    "{{ undefined_thing | last }}|{{ [] | last }}",
    # undefined behaviour
    "[{{ undefined_thing }}]|{{ undefined_thing | length }}|{{ undefined_thing is defined }}|{{ undefined_thing is undefined }}",
    "{% for x in undefined_thing %}{{ x }}{% else %}empty{% endfor %}|{{ undefined_thing | default('dflt') }}|{{ undefined_thing | list }}",
    "{{ undefined_thing | string }}|{{ undefined_thing | trim }}|{{ undefined_thing | join(',') }}|{{ undefined_thing | first }}|{{ undefined_thing | items | list }}",
    "{{ undefined_thing() }}",
    "{{ undefined_thing | tojson }}",
    "{{ undefined_thing | int }}",
    "{% if undefined_thing %}t{% else %}f{% endif %}|{{ not undefined_thing }}|{{ undefined_thing is none }}",
    # filters
    "{{ xs | length }}|{{ s | length }}|{{ d | length }}|{{ s | count }}|{{ '' | length }}",
    "{{ '  x y  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ s | lower }}|{{ s | upper }}|{{ 'hello world-foo' | title }}|{{ 'hELLO' | capitalize }}",
    "{{ nothing | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ 0 | d('z', boolean=true) }}",
    "{{ xs | join }}|{{ xs | join(', ') }}|{{ users | join(';', attribute='name') }}|{{ [1, none, 'a'] | join('-') }}",
    "{{ xs | first }}|{{ xs | last }}|{{ s | first }}|{{ d | first }}|{{ [] | first }}",
    "{{ xs | sort }}|{{ xs | sort(reverse=true) }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}",
    "{{ users | sort(attribute='age') | map(attribute='name') | list }}|{{ users | sort(attribute='name') | map(attribute='name') | join(',') }}",
    "{{ users | selectattr('admin') | map(attribute='name') | list }}|{{ users | rejectattr('admin') | list | length }}",
    "{{ users | selectattr('age', 'equalto', 31) | map(attribute='name') | list }}|{{ users | selectattr('age', '>', 26) | list | length }}",
    "{{ xs | select('odd') | list }}|{{ xs | reject('odd') | list }}|{{ [0, 1, '', 'a'] | select | list }}",
    "{{ xs | map('string') | join('+') }}|{{ ['a', 'b'] | map('upper') | list }}|{{ users | map(attribute='missing', default='?') | list }}",
    "{{ d | items | list }}|{{ d | dictsort }}|{{ {'b': 1, 'A': 2} | dictsort(case_sensitive=true) }}|{{ {'b': 2, 'a': 3} | dictsort(by='value', reverse=true) }}",
    "{{ '42' | int }}|{{ '4.7' | int }}|{{ 'x' | int }}|{{ 'x' | int(5) }}|{{ 3.9 | int }}|{{ '0x1A' | int(base=16) }}|{{ true | int }}",
    "{{ '2.5' | float }}|{{ 'x' | float }}|{{ 3 | float }}|{{ -3 | abs }}|{{ -2.5 | abs }}",
    "{{ 2.5 | round }}|{{ 3.5 | round }}|{{ 2.675 | round(2) }}|{{ 2.1 | round(method='ceil') }}|{{ 2.9 | round(0, 'floor') }}|{{ 7 | round }}",
    "{{ xs | reverse | list }}|{{ s | reverse }}|{{ xs | unique | list }}|{{ ['a', 'A', 'b'] | unique | list }}|{{ xs | min }}|{{ xs | max }}|{{ xs | sum }}",
    "{{ users | sum(attribute='age') }}|{{ users | max(attribute='age') }}|{{ ['b', 'A'] | min }}|{{ [] | max }}",
    "{{ 'a-b-a' | replace('a', 'x') }}|{{ 'a-b-a' | replace('a', 'x', 1) }}|{{ xs | string }}|{{ 5 | string }}|{{ 'x' | safe }}",
    "{{ '<a href=\"x\">&\\'</a>' | e }}|{{ 'one two  three' | wordcount }}|{{ users[0] | attr('name') }}",
    "{{ text | indent }}|{{ text | indent(2, first=true) }}|{{ text | indent('> ', blank=true) }}",
    "{{ xs | list }}|{{ s | list | length }}|{{ d | list }}|{{ 'ab' | list }}",
    "{{ x | nosuchfilter }}",
    "{{ 5 | length }}",
    # tojson
    "{{ d | tojson }}|{{ 'é\"\\n\\t\\u0001' | tojson }}|{{ [1, 2.5, none, true, 1e100, 1e-7] | tojson }}",
    "{{ users[0] | tojson(indent=2) }}",
    "{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson(indent=2) }}",
    "{{ {'a': [1, {'b': []}]} | tojson(indent='\\t') }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ {1: 2, none: 3, true: 4} | tojson }}",
    "{{ users | tojson(indent=0) }}",
    # tests
    "{{ xs is sequence }}|{{ s is sequence }}|{{ d is sequence }}|{{ n is sequence }}|{{ d is mapping }}|{{ xs is mapping }}",
    "{{ n is number }}|{{ f is number }}|{{ yes is number }}|{{ s is number }}|{{ n is integer }}|{{ f is float }}|{{ yes is integer }}",
    "{{ s is string }}|{{ n is string }}|{{ nothing is none }}|{{ yes is true }}|{{ 1 is true }}|{{ false is false }}|{{ 0 is false }}|{{ yes is boolean }}",
    "{{ n is odd }}|{{ n is even }}|{{ 9 is divisibleby 3 }}|{{ 9 is divisibleby(4) }}|{{ 'abc' is lower }}|{{ 'ABC' is upper }}|{{ 'aB' is lower }}",
    "{{ 2 is in xs }}|{{ n is eq 7 }}|{{ n is ne 7 }}|{{ n is gt 3 }}|{{ n is lt 3 }}|{{ n is ge 7 }}|{{ n is le 6 }}|{{ n is equalto 7 }}",
    "{{ xs is iterable }}|{{ n is iterable }}|{{ undefined_thing is iterable }}|{{ 'upper' is filter }}|{{ 'nosuch' is filter }}|{{ 'odd' is test }}",
    "{{ range is callable }}|{{ n is callable }}|{{ nothing is not none }}|{{ n is not string }}",
    "{{ x is nosuchtest }}",
    # string methods
    "{{ s.upper() }}|{{ s.lower() }}|{{ s.startswith('Hé') }}|{{ s.endswith('ld') }}|{{ s.startswith(('x', 'H')) }}|{{ 'Hello World'.title() }}",
    "{{ 'a,b,,c'.split(',') }}|{{ '  a  b c '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ ''.split() }}|{{ ''.split(',') }}",
    "[{{ '  x  '.strip() }}]|[{{ '  x  '.lstrip() }}]|[{{ '  x  '.rstrip() }}]|[{{ '\\n\\nx\\n'.strip('\\n') }}]|[{{ 'xyhixy'.strip('yx') }}]",
    "{{ 'a-b-a'.replace('a', 'c') }}|{{ 'abc'.replace('', '-') }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'hello'.find('l') }}|{{ 'hello'.rfind('l') }}|{{ 'hello'.find('z') }}|{{ 'hello'.count('l') }}",
    "{{ '-'.join(['a', 'b']) }}|{{ 'a1'.isalnum() }}|{{ '12'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ ' '.isspace() }}|{{ 'x'.islower() }}|{{ 'X'.isupper() }}",
    "{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ 'k=v=w'.partition('=') }}|{{ 'k=v=w'.rpartition('=') }}|{{ 'hello'.capitalize() }}",
    "{{ messages[2].content.split('</think>')[-1].lstrip('\\n') }}|{{ messages[2].content.split('</think>')[0].split('<think>')[-1] }}",
    "{{ d.get('b') }}|{{ d.get('zz') }}|{{ d.get('zz', 5) }}|{{ d.keys() | list }}|{{ d.values() | list | length }}|{{ xs.index(2) }}|{{ xs.count(3) }}",
    "{{ s.nosuchmethod() }}",
    "{{ 'a'.split('') }}",
    "{{ xs.append(4) }}",
    # loops
    "{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }} {% endfor %}",
    "{% for x in xs %}{{ loop.previtem }}-{{ x }}-{{ loop.nextitem }} {% endfor %}",
    "{% for x in xs %}{{ loop.cycle('odd', 'even') }}{% endfor %}|{% for x in [1, 1, 2] %}{{ loop.changed(x) }}{% endfor %}",
    "{% for x in xs if x > 1 %}{{ x }}:{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}",
    "{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for (a, b) in [(1, 2)] %}{{ a }}{{ b }}{% endfor %}",
    "{% for x in range(3) %}{{ x }}{% endfor %}|{{ range(2, 10, 3) | list }}|{{ range(5, 0, -2) | list }}|{{ range(0) | list }}",
    "{% for x in 5 %}{% endfor %}",
    "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
    # scoping
    "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(total=0, names=[]) %}{% for u in users %}{% set ns.total = ns.total + u.age %}{% set ns.names = ns.names + [u.name] %}{% endfor %}{{ ns.total }}|{{ ns.names }}",
    "{% set ns = namespace(a=1) %}{{ ns.a }}|{{ ns.b }}|{% set ns.b = 'x' %}{{ ns.b }}|{{ ns }}",
    "{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = (1, 2) %}{{ t }}",
    "{% set block %}inner {{ n }}{% endset %}[{{ block }}]|{% set up | upper %}shout{% endset %}{{ up }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}|{{ a }}",
    "{% set x = 5 %}{% set x.y = 1 %}",
    # macros
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }}|{{ greet('Bo', 'Hi') }}|{{ greet(greeting='Yo', name='Cy') }}|{{ greet() }}",
    "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}",
    "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{{ m() }}{% set x = 2 %}{{ m() }}",
    "{% macro v() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, k=3) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}",
    "{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inside {{ n }}{% endcall %}",
    "{% filter upper %}shout {{ n }}{% endfilter %}|{% filter replace('a', 'o') | upper %}banana{% endfilter %}",
    # whitespace control (trim_blocks / lstrip_blocks)
    "<ul>\n  {% for x in xs %}\n    <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n",
    "a  {%- if true -%}  b  {%- endif -%}  c|{{- ' d ' -}}|  {{ 'e' }}  ",
    "x\n  {%+ if true %}y{% endif %}\n{% if true +%}\nz{% endif %}",
    "  {# comment #}\nafter|{#- trimmed -#}   x",
    "{% raw %}{{ not evaluated }} {% if %}{% endraw %}|{%- raw -%}  spaced  {%- endraw %}|",
    "line1\r\nline2\r\n{% if true %}\r\nline3\r\n{% endif %}\r\n",
    "trailing newline is dropped\n",
    "{{ 'a' }}\n{{ 'b' }}\n",
    "  {% if true %}\n  indented\n  {% endif %}\n  end",
    # globals
    "{{ dict(a=1, b='x') }}|{{ namespace(x=1).x }}|{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}|{% set j = joiner('/') %}{{ j() }}a{{ j() }}b",
    "{{ range(100001) | length }}",
    # syntax errors
    "{% if x %}unclosed",
    "{% for x in %}{% endfor %}",
    "{{ 1 + }}",
    "{% endfor %}",
    "{% if true %}{% endfor %}",
    "{{ 'unterminated }}",
    "{% nosuchtag %}",
    "line one\n{{ (1, 2 }}",
    "{% break %}",
    "{# unclosed comment",
    "{{ x ! y }}",
    "{% set %}",
    "{{ a.1b }}",
]


def render_snippet(env, source):
    context = dict(BASE_CONTEXT)
    try:
        return {"output": env.from_string(source).render(**context)}
    except jinja2.TemplateSyntaxError as e:
        return {"error": "syntax", "message": str(e)}
    except Exception as e:  # noqa: BLE001 - any render failure is an expected error here
        return {"error": "runtime", "message": f"{type(e).__name__}: {e}"}


def main():
    env = make_env()
    cases = {}
    for name, case in qwen3_cases().items():
        cases[name] = dict(case, template="qwen3.jinja")
    cases.update(other_cases())
    for name, case in sorted(cases.items()):
        record = dict(case)
        record.setdefault("add_generation_prompt", True)
        txt_path = os.path.join(OUT, name + ".txt")
        try:
            text = render_case(env, case)
            with open(txt_path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except TemplateError as e:
            record["expected_error"] = str(e)
            if os.path.exists(txt_path):
                os.remove(txt_path)
        with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
            f.write("\n")
    snippets = []
    for source in SNIPPETS:
        snippets.append(dict(template=source, **render_snippet(env, source)))
    with open(os.path.join(OUT, "snippets.json"), "w", encoding="utf-8") as f:
        json.dump({"context": BASE_CONTEXT, "fixed_now": FIXED_NOW.isoformat(),
                   "snippets": snippets}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"jinja2 {jinja2.__version__}: {len(cases)} cases, {len(snippets)} snippets -> {OUT}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
