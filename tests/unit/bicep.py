"""Read Bicep without the compiler (it cannot be installed here): tree-sitter-bicep parses it, and a small evaluator
computes the compile-time values the tests compare (strings, interpolation, variables, loadJsonContent, replace...)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tree_sitter as ts
import tree_sitter_bicep as tsb

PARSER = ts.Parser(ts.Language(tsb.language()))


class Unevaluable(Exception):
    """The expression depends on something known only at deployment (a resource's property, an unbound parameter)."""


def problems(tree: ts.Tree) -> list[str]:
    """Syntax errors: ERROR and missing nodes, with their line."""
    found: list[str] = []

    def walk(node: ts.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.type} near {node.text.decode()[:40] if node.text else ''!r}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


def text(node: ts.Node | None) -> str:
    return node.text.decode() if node is not None and node.text else ""


def prop(obj: ts.Node, key: str) -> ts.Node | None:
    for child in obj.named_children:
        if child.type == "object_property" and text(child.named_children[0]).strip("'") == key:
            return child.named_children[-1]
    return None


@dataclass
class Resource:
    symbol: str
    type: str
    body: ts.Node

    def prop(self, *path: str) -> ts.Node | None:
        node: ts.Node | None = self.body
        for key in path:
            node = prop(node, key) if node is not None else None
        return node


class Template:
    """One .bicep file: its resources, parameters, variables and outputs, and values computed from them."""

    def __init__(self, path: Path, bindings: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.tree = PARSER.parse(path.read_bytes())
        self.bindings = dict(bindings or {})  # identifiers given a value (e.g. botAppId -> '{BOT_APP_ID}')
        self.resources: list[Resource] = []
        self.params: dict[str, ts.Node | None] = {}  # name -> default value (None: no default)
        self.vars: dict[str, ts.Node] = {}
        self.outputs: dict[str, ts.Node] = {}
        for node in self.tree.root_node.named_children:
            name = text(node.named_children[0]) if node.named_children else ""
            if node.type == "resource_declaration":
                body = node.named_children[-1]
                if body.type in ("for_statement", "if_statement"):  # [for x in y: {...}] and = if (c) {...}
                    body = body.named_children[-1]
                self.resources.append(Resource(name, text(node.named_children[1]).strip("'"), body))
            elif node.type == "parameter_declaration":
                children = node.named_children
                self.params[name] = children[2] if len(children) > 2 else None
            elif node.type == "variable_declaration":
                self.vars[name] = node.named_children[-1]
            elif node.type == "output_declaration":
                self.outputs[name] = node.named_children[-1]

    def by_type(self, prefix: str) -> list[Resource]:
        return [r for r in self.resources if r.type.split("@")[0] == prefix]

    def one(self, prefix: str) -> Resource:
        (resource,) = self.by_type(prefix)
        return resource

    def value(self, node: ts.Node) -> Any:  # one branch per node type
        kind = node.type
        if kind == "string":
            return "".join(text(c) if c.type != "interpolation" else str(self.value(c.named_children[0])) for c in node.named_children)
        if kind == "number":
            return int(text(node))
        if kind == "boolean":
            return text(node) == "true"
        if kind == "array":
            return [self.value(c) for c in node.named_children]
        if kind == "object":
            return {
                text(p.named_children[0]).strip("'"): self.value(p.named_children[-1])
                for p in node.named_children
                if p.type == "object_property"
            }
        if kind == "parenthesized_expression":
            return self.value(node.named_children[0])
        if kind == "identifier":
            return self.identifier(text(node))
        if kind == "member_expression":
            obj, key = node.named_children
            return self.value(obj)[text(key)]
        if kind == "subscript_expression":
            obj, index = node.named_children
            return self.value(obj)[self.value(index)]
        if kind == "ternary_expression":
            condition, yes, no = node.named_children
            return self.value(yes) if self.value(condition) else self.value(no)
        if kind == "unary_expression" and text(node).startswith("!"):
            return not self.value(node.named_children[0])
        if kind == "call_expression":
            return self.call(text(node.named_children[0]), [self.value(a) for a in node.named_children[1].named_children])
        raise Unevaluable(f"{kind}: {text(node)[:60]}")

    def identifier(self, name: str) -> Any:
        if name in self.bindings:
            return self.bindings[name]
        if name in self.vars:
            return self.value(self.vars[name])
        default = self.params.get(name)
        if default is not None:
            return self.value(default)
        raise Unevaluable(name)

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "loadJsonContent":
            return json.loads((self.path.parent / args[0]).read_text())
        if name == "replace":
            return str(args[0]).replace(args[1], args[2])
        if name == "join":
            return args[1].join(args[0])
        if name == "empty":
            return not args[0]
        if name == "string":
            return str(args[0])
        raise Unevaluable(f"{name}()")

    def var(self, name: str) -> Any:
        return self.value(self.vars[name])

    def app_settings(self, site: Resource) -> dict[str, ts.Node | None]:
        """The web app's settings: name -> the value's expression."""
        array = site.prop("properties", "siteConfig", "appSettings")
        assert array is not None
        return {text(prop(o, "name")).strip("'"): prop(o, "value") for o in array.named_children if o.type == "object"}
