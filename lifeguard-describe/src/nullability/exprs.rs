//! Per-expression rules: when an expression can be NULL given the nullability of what it
//! refers to. Functions and operators not listed here are assumed able to return NULL.

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Query,
    TypedString, Value,
};

use super::analyze::{norm, Analyzer, Cx, Grouping};

/// Aggregates; `count` never yields NULL, the others do over no rows.
const AGGREGATES: &[&str] = &[
    "count",
    "max",
    "min",
    "sum",
    "avg",
    "string_agg",
    "array_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "bool_and",
    "bool_or",
    "every",
    "bit_and",
    "bit_or",
    "bit_xor",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_slope",
    "regr_intercept",
    "regr_count",
    "regr_r2",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "xmlagg",
    "range_agg",
    "range_intersect_agg",
];

/// Aggregates that, within a non-empty group, yield a value whenever their arguments are
/// not NULL. (`stddev` and friends yield NULL for a single row, so they are not here.)
const GROUP_AGGREGATES_NON_NULL_ON_NON_NULL_INPUT: &[&str] = &[
    "max",
    "min",
    "sum",
    "avg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "bit_and",
    "bit_or",
    "bit_xor",
];

/// Aggregates that, within a non-empty group, always yield a value (NULL inputs become
/// array or JSON elements).
const GROUP_AGGREGATES_NEVER_NULL: &[&str] = &["array_agg", "json_agg", "jsonb_agg", "regr_count"];

/// Window functions that always yield a value.
const WINDOW_NEVER_NULL: &[&str] = &[
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "count",
];

/// Functions that never yield NULL whatever their arguments.
const NEVER_NULL: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "current_user",
    "session_user",
    "user",
    "current_role",
    "current_catalog",
    "current_database",
    "version",
    "pg_backend_pid",
    "random",
    "gen_random_uuid",
    "txid_current",
    "pg_current_xact_id",
    "concat",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "grouping",
    "row",
];

/// Functions that yield a value whenever all their arguments are values (strict functions
/// that do not return NULL for non-NULL input).
///
/// `lower` and `upper` are not here: on a range they are NULL for an empty or unbounded
/// one, so they are trusted only on arguments known not to be ranges ([`exotic`]).
const STRICT_NON_NULL: &[&str] = &[
    "initcap",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "bit_length",
    "btrim",
    "ltrim",
    "rtrim",
    "trim",
    "substr",
    "replace",
    "translate",
    "left",
    "right",
    "lpad",
    "rpad",
    "repeat",
    "reverse",
    "split_part",
    "strpos",
    "position",
    "md5",
    "sha256",
    "encode",
    "decode",
    "to_hex",
    "chr",
    "ascii",
    "quote_ident",
    "quote_literal",
    "regexp_replace",
    "starts_with",
    "abs",
    "round",
    "trunc",
    "ceil",
    "ceiling",
    "floor",
    "sign",
    "sqrt",
    "cbrt",
    "power",
    "pow",
    "mod",
    "exp",
    "ln",
    "log",
    "log10",
    "div",
    "width_bucket",
    "to_date",
    "to_timestamp",
    "date_trunc",
    "age",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "array_to_string",
    "string_to_array",
    "array_append",
    "array_prepend",
    "array_cat",
    "array_remove",
    "array_replace",
    "cardinality",
    "to_json",
    "to_jsonb",
    "row_to_json",
    "json_typeof",
    "jsonb_typeof",
    "jsonb_set",
    "jsonb_pretty",
    "to_tsvector",
    "to_tsquery",
    "plainto_tsquery",
    "phraseto_tsquery",
    "websearch_to_tsquery",
    "ts_rank",
    "ts_rank_cd",
    "setweight",
    "nextval",
    "currval",
    "setval",
    "host",
    "family",
    "masklen",
];

fn list(names: &[&str], name: &str) -> bool {
    names.contains(&name)
}

/// Whether `e` may be NULL (`true` also when unsure).
pub(super) fn nullable(a: &mut Analyzer, e: &Expr, cx: &Cx) -> bool {
    let any = |a: &mut Analyzer, es: &[&Expr]| es.iter().any(|e| nullable(a, e, cx));
    if special_syntax(e).is_some_and(|names| names.iter().any(|n| a.catalog().user_function(n))) {
        // `ceil(x)`, `substring(…)`… call functions by name too, and a user's may win.
        return true;
    }
    if a.catalog().user_casts() && !cast_free(e) {
        // A user's cast function, perhaps implicit, may sit between any operator or
        // function and its arguments, and return NULL.
        return true;
    }
    match e {
        Expr::Identifier(id) => cx.column(std::slice::from_ref(id)).unwrap_or(true),
        Expr::CompoundIdentifier(ids) => cx.column(ids).unwrap_or(true),
        Expr::Value(v) => matches!(v.value, Value::Null | Value::Placeholder(_)),
        Expr::TypedString(_) => false,
        Expr::Interval(i) => nullable(a, &i.value, cx),
        Expr::Cast { expr, .. } => nullable(a, expr, cx),
        Expr::Nested(expr) | Expr::Collate { expr, .. } => nullable(a, expr, cx),
        Expr::UnaryOp { expr, .. } | Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => {
            nullable(a, expr, cx)
        }
        // `extract(month FROM 'infinity')` is NULL; the fields that count years or seconds
        // are ±Infinity there instead.
        Expr::Extract { field, expr, .. } => {
            use sqlparser::ast::DateTimeField as F;
            !matches!(
                field,
                F::Epoch
                    | F::Year
                    | F::Decade
                    | F::Century
                    | F::Millennium
                    | F::Julian
                    | F::Isoyear
            ) || nullable(a, expr, cx)
        }
        Expr::BinaryOp { left, op, right } => {
            !strict_operator(op)
                || operand(a, left, cx)
                || operand(a, right, cx)
                // `path + path` is NULL when the first is closed.
                || (arithmetic(op) && (exotic(a, left, cx) || exotic(a, right, cx)))
        }
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsNotTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotUnknown(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::Exists { .. } => false,
        Expr::InList { expr, list, .. } => {
            operand(a, expr, cx) || list.iter().any(|e| operand(a, e, cx))
        }
        Expr::InSubquery { expr, subquery, .. } => {
            if operand(a, expr, cx) {
                return true;
            }
            match a.query(subquery, cx.scopes) {
                Some(cols) if cols.len() == 1 => cols[0].nullable,
                _ => true,
            }
        }
        Expr::Between {
            expr, low, high, ..
        } => [expr, low, high].iter().any(|e| operand(a, e, cx)),
        Expr::Like {
            any: false,
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            any: false,
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::SimilarTo {
            expr,
            pattern,
            escape_char,
            ..
        } => any_of(
            a,
            cx,
            [Some(&**expr), Some(pattern), escape_char.as_deref()],
        ),
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => any(a, &[timestamp, time_zone]),
        Expr::Position { expr, r#in } => any(a, &[expr, r#in]),
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            // `substring(x FROM 'regex')` is NULL when the pattern does not match; only
            // numeric positions are known to give a value.
            let positional = [substring_from, substring_for]
                .into_iter()
                .flatten()
                .all(|e| matches!(&**e, Expr::Value(v) if matches!(v.value, Value::Number(..))));
            !positional
                || any_of(
                    a,
                    cx,
                    [
                        Some(&**expr),
                        substring_from.as_deref(),
                        substring_for.as_deref(),
                    ],
                )
        }
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            let chars = trim_characters.iter().flatten().map(Some);
            any_of(
                a,
                cx,
                [Some(&**expr), trim_what.as_deref()]
                    .into_iter()
                    .chain(chars),
            )
        }
        Expr::Overlay {
            expr,
            overlay_what,
            overlay_from,
            overlay_for,
        } => any_of(
            a,
            cx,
            [
                Some(&**expr),
                Some(overlay_what),
                Some(overlay_from),
                overlay_for.as_deref(),
            ],
        ),
        // Without ELSE, an unmatched row yields NULL.
        Expr::Case {
            else_result: None, ..
        } => true,
        Expr::Case {
            conditions,
            else_result: Some(e),
            ..
        } => nullable(a, e, cx) || conditions.iter().any(|w| nullable(a, &w.result, cx)),
        // Array and row constructors are values even when their elements are NULL.
        Expr::Array(_) | Expr::Tuple(_) => false,
        Expr::Function(f) => function(a, f, cx),
        // A scalar subquery is NULL when it finds no row; one that surely returns one row
        // has its column's nullability.
        Expr::Subquery(q) => {
            !one_row(a, q, cx)
                || match a.query(q, cx.scopes) {
                    Some(cols) if cols.len() == 1 => cols[0].nullable,
                    _ => true,
                }
        }
        // JSON access, subscripts, ANY/ALL, …
        _ => true,
    }
}

/// Expressions that involve no cast, implicit or explicit, of their own.
fn cast_free(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Value(_)
            | Expr::Nested(_)
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::Exists { .. }
            | Expr::Subquery(_)
    )
}

/// Whether `q` returns exactly one row: a lone SELECT that aggregates (an aggregate of its
/// own, not of an outer query's columns) with no GROUP BY, HAVING, LIMIT, OFFSET, FETCH,
/// ORDER BY or DISTINCT ON, and a value made of nothing but such aggregates, literals,
/// casts, operators and `coalesce` (a set-returning function anywhere could leave no row),
/// e.g. `(SELECT count(*) FROM rental r WHERE r.customer_id = c.customer_id)`.
fn one_row(a: &mut Analyzer, q: &Query, cx: &Cx) -> bool {
    use sqlparser::ast::{Distinct, GroupByExpr, SelectItem, SetExpr};
    let clauses =
        q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() || q.order_by.is_some();
    let SetExpr::Select(s) = q.body.as_ref() else {
        return false;
    };
    let plain_group =
        matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    let distinct_on = matches!(s.distinct, Some(Distinct::On(_)));
    if clauses || !plain_group || distinct_on || s.having.is_some() || s.top.is_some() {
        return false;
    }
    let [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] =
        s.projection.as_slice()
    else {
        return false;
    };
    let scope = a.scope_of_from(&s.from, cx.scopes);
    let mut scopes = cx.scopes.to_vec();
    scopes.push(&scope);
    let inner = Cx {
        scopes: &scopes,
        grouping: Grouping::None,
        in_aggregate: false,
    };
    own_aggregate(a, e, &inner.local()) == Some(true)
}

/// For an expression made only of aggregates over `local`'s own columns, literals, casts,
/// operators and `coalesce`: whether it holds such an aggregate. `None` for anything else.
fn own_aggregate(a: &Analyzer, e: &Expr, local: &Cx) -> Option<bool> {
    match e {
        Expr::Value(_) | Expr::TypedString(_) => Some(false),
        Expr::Cast { expr, .. } | Expr::Nested(expr) | Expr::UnaryOp { expr, .. } => {
            own_aggregate(a, expr, local)
        }
        Expr::BinaryOp { left, right, .. } => {
            Some(own_aggregate(a, left, local)? | own_aggregate(a, right, local)?)
        }
        Expr::Function(f) if f.over.is_none() => {
            let name = builtin_name(a, f)?;
            // An aggregate whose arguments and FILTER name only outer columns (or none but
            // outer ones) belongs to the outer query; ORDER BY inside one is not looked at.
            let plain_args = match &f.args {
                FunctionArguments::List(l) => l.clauses.is_empty(),
                _ => true,
            };
            let own_filter = f.filter.as_deref().is_none_or(|e| refs_local(e, local));
            match arguments(f) {
                Some(Some(args)) if list(AGGREGATES, &name) => (plain_args
                    && own_filter
                    && f.within_group.is_empty()
                    && args.iter().all(|e| refs_local(e, local)))
                .then_some(true),
                Some(Some(args)) if name == "coalesce" => {
                    let mut any = false;
                    for e in args {
                        any |= own_aggregate(a, e, local)?;
                    }
                    Some(any)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Nullability of a comparison operand: a row constructor compares as NULL when one of
/// its fields is NULL, although the row itself is a value.
fn operand(a: &mut Analyzer, e: &Expr, cx: &Cx) -> bool {
    match e {
        Expr::Tuple(fields) => fields.iter().any(|f| nullable(a, f, cx)),
        Expr::Nested(inner) => operand(a, inner, cx),
        Expr::Function(f) if function_name(f).as_deref() == Some("row") => match &f.args {
            FunctionArguments::List(l) => l.args.iter().any(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => nullable(a, e, cx),
                _ => true,
            }),
            _ => true,
        },
        _ => nullable(a, e, cx),
    }
}

/// Whether every column `e` refers to belongs to the innermost scope of `local` (anything
/// not understood, subqueries included, counts as no).
fn refs_local(e: &Expr, local: &Cx) -> bool {
    let all = |es: &[&Expr]| es.iter().all(|e| refs_local(e, local));
    match e {
        Expr::Identifier(id) => local.column(std::slice::from_ref(id)).is_some(),
        Expr::CompoundIdentifier(ids) => local.column(ids).is_some(),
        Expr::Value(_) | Expr::TypedString(_) => true,
        Expr::Cast { expr, .. }
        | Expr::Nested(expr)
        | Expr::UnaryOp { expr, .. }
        | Expr::Collate { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr) => refs_local(expr, local),
        Expr::BinaryOp { left, right, .. } => all(&[left, right]),
        Expr::Tuple(es) => es.iter().all(|e| refs_local(e, local)),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand
                .iter()
                .chain(else_result)
                .all(|e| refs_local(e, local))
                && conditions
                    .iter()
                    .all(|w| refs_local(&w.condition, local) && refs_local(&w.result, local))
        }
        Expr::Function(f) if f.over.is_none() => match &f.args {
            FunctionArguments::None => true,
            FunctionArguments::List(l) => l.args.iter().all(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => refs_local(e, local),
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => true,
                _ => false,
            }),
            FunctionArguments::Subquery(_) => false,
        },
        _ => false,
    }
}

/// Whether any of the present expressions may be NULL.
fn any_of<'e>(a: &mut Analyzer, cx: &Cx, es: impl IntoIterator<Item = Option<&'e Expr>>) -> bool {
    es.into_iter().flatten().any(|e| nullable(a, e, cx))
}

/// Operators that yield a value whenever both operands are values. (`#` is not: on two
/// boxes or line segments it is their intersection, NULL when there is none; nor is `@@`,
/// NULL when a jsonpath predicate is unknown. Arithmetic is, except on geometric types:
/// see [`exotic`].)
fn strict_operator(op: &BinaryOperator) -> bool {
    use BinaryOperator as B;
    matches!(
        op,
        B::Plus
            | B::Minus
            | B::Multiply
            | B::Divide
            | B::Modulo
            | B::StringConcat
            | B::Gt
            | B::Lt
            | B::GtEq
            | B::LtEq
            | B::Eq
            | B::NotEq
            | B::And
            | B::Or
            | B::BitwiseOr
            | B::BitwiseAnd
            | B::PGBitwiseShiftLeft
            | B::PGBitwiseShiftRight
            | B::PGExp
            | B::PGOverlap
            | B::PGRegexMatch
            | B::PGRegexIMatch
            | B::PGRegexNotMatch
            | B::PGRegexNotIMatch
            | B::PGLikeMatch
            | B::PGILikeMatch
            | B::PGNotLikeMatch
            | B::PGNotILikeMatch
            | B::PGStartsWith
            | B::AtArrow
            | B::ArrowAt
    )
}

/// The name of the built-in `f` calls, in lower case: `None` when it may be a user's
/// function (qualified with another schema, or unqualified while a function of that name
/// exists outside `pg_catalog`, which the call might resolve to).
fn builtin_name(a: &Analyzer, f: &Function) -> Option<String> {
    let name = function_name(f)?;
    let explicit = matches!(f.name.0.as_slice(), [_, _]);
    (explicit || !a.catalog().user_function(&name)).then_some(name)
}

/// The function's name in lower case, `None` when it is qualified with a schema other
/// than `pg_catalog`.
fn function_name(f: &Function) -> Option<String> {
    let parts: Vec<String> = f
        .name
        .0
        .iter()
        .map(|p| match p {
            sqlparser::ast::ObjectNamePart::Identifier(id) => norm(id),
            sqlparser::ast::ObjectNamePart::Function(f) => f.name.value.to_ascii_lowercase(),
        })
        .collect();
    match parts.as_slice() {
        [name] => Some(name.clone()),
        [schema, name] if schema == "pg_catalog" => Some(name.clone()),
        _ => None,
    }
}

fn function(a: &mut Analyzer, f: &Function, cx: &Cx) -> bool {
    let Some(name) = builtin_name(a, f) else {
        return true;
    };
    let Some(args) = arguments(f) else {
        // ARRAY(SELECT …) is an array even when the subquery returns no rows.
        return !matches!(f.args, FunctionArguments::Subquery(_)) || name != "array";
    };
    if f.over.is_some() {
        return !list(WINDOW_NEVER_NULL, &name);
    }
    if list(AGGREGATES, &name) {
        if name == "count" {
            return false;
        }
        let Some(args) = args else {
            // `t.*` or another argument that is not a plain expression.
            return true;
        };
        let inner = Cx {
            scopes: cx.scopes,
            grouping: cx.grouping,
            in_aggregate: true,
        };
        let args_nullable = args.iter().any(|e| nullable(a, e, &inner));
        // An aggregate over outer columns belongs to the outer query, whose input may be
        // empty: only arguments made of this SELECT's own columns count.
        let local = inner.local();
        let own = args.iter().all(|e| refs_local(e, &local));
        if cx.grouping != Grouping::Plain || f.filter.is_some() || !own {
            return true;
        }
        if list(GROUP_AGGREGATES_NEVER_NULL, &name) {
            return false;
        }
        return !list(GROUP_AGGREGATES_NON_NULL_ON_NON_NULL_INPUT, &name) || args_nullable;
    }
    let Some(args) = args else {
        // A whole row (`t.*`) is NULL on the padded side of an outer join.
        return true;
    };
    match name.as_str() {
        "lower" | "upper" => args.iter().any(|e| nullable(a, e, cx) || exotic(a, e, cx)),
        // NULL only when every argument is NULL.
        "coalesce" | "greatest" | "least" => args.iter().all(|e| nullable(a, e, cx)),
        // NULL only when the separator (the format) is; NULL arguments become ''.
        "concat_ws" | "format" => args.first().is_none_or(|e| nullable(a, e, cx)),
        _ if list(NEVER_NULL, &name) => false,
        _ if list(STRICT_NON_NULL, &name) => args.iter().any(|e| nullable(a, e, cx)),
        _ => true,
    }
}

/// The name Postgres gives an unaliased result column, as far as later references need it.
pub(super) fn output_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(id) => norm(id),
        Expr::CompoundIdentifier(ids) => ids.last().map(norm).unwrap_or_default(),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => output_name(expr),
        Expr::Function(f) => function_name(f).unwrap_or_else(|| "?column?".into()),
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Array(_) => "array".into(),
        _ => "?column?".into(),
    }
}

/// A function call's argument expressions (none for `count(*)`). `None` for a subquery
/// argument (`ARRAY(SELECT …)`), `Some(None)` when an argument is not a plain expression
/// (`t.*`, whose whole row may be NULL).
fn arguments(f: &Function) -> Option<Option<Vec<&Expr>>> {
    match &f.args {
        FunctionArguments::None => Some(Some(Vec::new())),
        FunctionArguments::Subquery(_) => None,
        FunctionArguments::List(l) => {
            let mut args = Vec::new();
            for arg in &l.args {
                match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                    | FunctionArg::Named {
                        arg: FunctionArgExpr::Expr(e),
                        ..
                    }
                    | FunctionArg::ExprNamed {
                        arg: FunctionArgExpr::Expr(e),
                        ..
                    } => args.push(e),
                    // count(*): no row, no value to be NULL.
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => {}
                    _ => return Some(None),
                }
            }
            Some(Some(args))
        }
    }
}

/// `+ - * /`: strict on numbers and dates, not always on geometric types.
fn arithmetic(op: &BinaryOperator) -> bool {
    use BinaryOperator as B;
    matches!(op, B::Plus | B::Minus | B::Multiply | B::Divide)
}

/// Whether `e` may be of a range, multirange or geometric type (`true` when unsure): on
/// those, `lower`/`upper` and arithmetic can be NULL for values.
pub(super) fn exotic(a: &Analyzer, e: &Expr, cx: &Cx) -> bool {
    match e {
        Expr::Identifier(id) => cx
            .resolve(std::slice::from_ref(id))
            .is_none_or(|(c, _)| c.exotic),
        Expr::CompoundIdentifier(ids) => cx.resolve(ids).is_none_or(|(c, _)| c.exotic),
        // A literal of no stated type resolves as a string where one is accepted.
        Expr::Value(v) => matches!(v.value, Value::Placeholder(_)),
        Expr::Interval(_) => false,
        Expr::Function(f) if f.over.is_some() => {
            !builtin_name(a, f).is_some_and(|n| list(WINDOW_NEVER_NULL, &n))
        }
        Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => exotic(a, inner, cx),
        Expr::Cast { data_type, .. } | Expr::TypedString(TypedString { data_type, .. }) => {
            !plain_type(data_type)
        }
        Expr::BinaryOp { left, op, right } => {
            if arithmetic(op) || matches!(op, BinaryOperator::StringConcat) {
                exotic(a, left, cx) || exotic(a, right, cx)
            } else {
                // Comparisons and logic give booleans; other operators anything.
                !strict_operator(op)
            }
        }
        Expr::Case {
            conditions,
            else_result,
            ..
        } => {
            conditions.iter().any(|w| exotic(a, &w.result, cx))
                || else_result.as_deref().is_some_and(|e| exotic(a, e, cx))
        }
        Expr::Function(f) if f.over.is_none() => match builtin_name(a, f) {
            // These return one of their arguments.
            Some(n) if matches!(n.as_str(), "coalesce" | "greatest" | "least" | "nullif") => {
                match arguments(f) {
                    Some(Some(args)) => args.iter().any(|e| exotic(a, e, cx)),
                    _ => true,
                }
            }
            // What the lists trust never returns a range or a geometric value (a bound of a
            // range is a scalar; `range_agg` is the one aggregate that returns a range).
            Some(n) => {
                !(n == "lower"
                    || n == "upper"
                    || list(NEVER_NULL, &n)
                    || list(STRICT_NON_NULL, &n)
                    || (list(AGGREGATES, &n) && !n.starts_with("range_")))
            }
            None => true,
        },
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::Exists { .. }
        | Expr::InList { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::Substring { .. }
        | Expr::Trim { .. }
        | Expr::Overlay { .. } => false,
        _ => true,
    }
}

/// The functions an expression written in special syntax calls by name.
fn special_syntax(e: &Expr) -> Option<&'static [&'static str]> {
    Some(match e {
        Expr::Ceil { .. } => &["ceil", "ceiling"],
        Expr::Floor { .. } => &["floor"],
        Expr::Substring { .. } => &["substring", "substr"],
        Expr::Trim { .. } => &["btrim", "ltrim", "rtrim"],
        Expr::Position { .. } => &["position", "strpos"],
        Expr::Overlay { .. } => &["overlay"],
        Expr::AtTimeZone { .. } => &["timezone"],
        Expr::Extract { .. } => &["extract", "date_part"],
        _ => return None,
    })
}

/// A built-in type of a category whose functions and operators the lists describe
/// (numbers, strings, booleans, dates and times, intervals, bits, JSON, UUIDs, arrays);
/// anything else — geometric (`path '…'`), ranges, user-defined types — may not be.
fn plain_type(t: &sqlparser::ast::DataType) -> bool {
    use sqlparser::ast::DataType as T;
    matches!(
        t,
        T::Character(_)
            | T::Char(_)
            | T::CharacterVarying(_)
            | T::CharVarying(_)
            | T::Varchar(_)
            | T::Text
            | T::String(_)
            | T::Uuid
            | T::Bytea
            | T::Numeric(_)
            | T::Decimal(_)
            | T::Dec(_)
            | T::Float(_)
            | T::Int2(_)
            | T::SmallInt(_)
            | T::Int(_)
            | T::Int4(_)
            | T::Integer(_)
            | T::Int8(_)
            | T::BigInt(_)
            | T::Float4
            | T::Real
            | T::Float8
            | T::Double(_)
            | T::DoublePrecision
            | T::Bool
            | T::Boolean
            | T::Date
            | T::Time(..)
            | T::Timestamp(..)
            | T::Interval { .. }
            | T::JSON
            | T::JSONB
            | T::Bit(_)
            | T::BitVarying(_)
            | T::VarBit(_)
            | T::Array(_)
    )
}

/// Whether `e` is an aggregate call (or `GROUPING(…)`), maybe cast: a value that ROLLUP,
/// CUBE and GROUPING SETS do not null out.
pub(super) fn is_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Cast { expr, .. } | Expr::Nested(expr) => is_aggregate(expr),
        Expr::Function(f) if f.over.is_none() => {
            function_name(f).is_some_and(|n| n == "grouping" || list(AGGREGATES, &n))
        }
        _ => false,
    }
}
