#pragma once
// Syntax tree of a parsed template. Every node keeps the byte offset of its token so runtime
// errors can name a line and column.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja_value.h"

namespace hh::jinja {

enum class ExprKind : uint8_t {
  Const,     // constant
  Name,      // name
  List,      // args
  Tuple,     // args
  Dict,      // args: key, value, key, value...
  GetAttr,   // args[0].name
  GetItem,   // args[0][args[1]]
  Slice,     // args[0][args[1]:args[2]:args[3]] (null parts omitted)
  Call,      // args[0](args[1..], kwargs)
  Filter,    // args[0] | name(args[1..], kwargs); args[0] null inside {% filter %}
  Test,      // args[0] is name(args[1..], kwargs)
  Not,       // not args[0]
  Neg,       // -args[0]
  Pos,       // +args[0]
  And,       // args[0] and args[1]
  Or,        // args[0] or args[1]
  Binary,    // args[0] op args[1]: + - * / // % **
  Concat,    // args joined with ~
  Compare,   // args[0] ops[0] args[1] ops[1] args[2]...
  CondExpr,  // args[1] if args[0] else args[2] (args[2] null: undefined)
};

enum class BinOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::Const;
  uint32_t offset = 0;
  Value constant;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  BinOp bin_op = BinOp::Add;
  std::vector<CmpOp> cmp_ops;
};

enum class StmtKind : uint8_t {
  Output,       // text
  Print,        // {{ expr }}
  If,           // if expr: body else else_body
  For,          // for targets in expr [if cond]: body else else_body
  Set,          // set targets = expr, or {% set x %}body{% endset %} with optional filter expr
  SetAttr,      // set target.attr = expr
  Macro,        // macro name(params) body
  CallBlock,    // {% call macro(args) %}body{% endcall %}: caller() renders body
  FilterBlock,  // {% filter f %}body{% endfilter %}: filter expr with null innermost arg
  With,         // with assignments: body
  Break,
  Continue,
  Scope,  // a plain body (generation blocks)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: undefined when not passed
};

struct Stmt {
  StmtKind kind = StmtKind::Output;
  uint32_t offset = 0;
  std::string text;                  // Output text; Set/SetAttr/Macro name; SetAttr attribute
  ExprPtr expr;                      // condition, iterable, value, print expression, call
  ExprPtr filter;                    // For: loop filter; Set block / FilterBlock: filter chain
  std::vector<std::string> targets;  // For/Set names (several: tuple unpacking)
  Body body, else_body;
  std::vector<MacroParam> params;  // Macro; With (name + value); CallBlock caller params
  bool uses_varargs = false;       // Macro body mentions varargs / kwargs / caller
  bool uses_kwargs = false;
  bool uses_caller = false;
};

}  // namespace hh::jinja
