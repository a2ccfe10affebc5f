//! The statement walk: FROM items and joins build a [`Scope`] of named columns with their
//! nullability; projections, set operations, CTEs and views turn scopes into output
//! columns. `None` anywhere means "could not tell", which callers turn into nullable.

use sqlparser::ast::{
    Cte, Expr, GroupByExpr, Ident, Join, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart,
    Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, SetOperator, Statement,
    TableAlias, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind, With,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::{Catalog, RelColumn, RelKind, Relation};

/// Views referring to views: deeper nesting than this is reported as unknown.
const MAX_VIEW_DEPTH: usize = 8;

/// A named column and whether it may be NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Col {
    pub name: String,
    pub nullable: bool,
    /// The name is the one Postgres reports (a column reference, an alias, a catalog
    /// name), so it can be checked against RowDescription.
    pub certain: bool,
    /// The table column (`pg_class.oid`, `attnum`) a plain column reference reads, as the
    /// server reports it in RowDescription: a second check that columns line up.
    pub origin: Option<(u32, i16)>,
    /// The value may be of a range, multirange or geometric type, on which `lower`/`upper`
    /// and arithmetic can yield NULL for values (see [`super::exprs::exotic`]).
    pub exotic: bool,
}

impl Col {
    /// A column about which nothing but the name and nullability is known.
    pub fn computed(name: String, nullable: bool, certain: bool) -> Col {
        Col {
            name,
            nullable,
            certain,
            origin: None,
            exotic: true,
        }
    }
}

/// One FROM item visible under `alias`. `cols` is `None` when its columns are unknown
/// (a function in FROM, an unknown relation, an unanalysable subquery).
#[derive(Debug, Clone)]
pub(super) struct Rel {
    alias: String,
    cols: Option<Vec<Col>>,
}

/// What a FROM clause makes visible: relations for qualified references and the ordered
/// column list that `*` and unqualified references see (USING columns merged).
#[derive(Debug, Clone)]
pub(super) struct Scope {
    rels: Vec<Rel>,
    /// `None` when some relation's columns are unknown.
    star: Option<Vec<Col>>,
    /// The SELECT owning this scope groups by ROLLUP / CUBE / GROUPING SETS: its columns
    /// may be NULL outside aggregates, also when a subquery refers to them.
    grouping_sets: bool,
}

impl Scope {
    fn empty() -> Scope {
        Scope {
            rels: Vec::new(),
            star: Some(Vec::new()),
            grouping_sets: false,
        }
    }

    fn single(alias: String, cols: Option<Vec<Col>>) -> Scope {
        Scope {
            star: cols.clone(),
            rels: vec![Rel { alias, cols }],
            grouping_sets: false,
        }
    }

    /// Comma join / cross join: everything of `other` after everything of `self`.
    fn append(&mut self, other: Scope) {
        self.rels.extend(other.rels);
        self.star = match (self.star.take(), other.star) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// The nullable side of an outer join: every column may now be NULL.
    fn make_nullable(&mut self) {
        for rel in &mut self.rels {
            if let Some(cols) = &mut rel.cols {
                cols.iter_mut().for_each(|c| c.nullable = true);
            }
        }
        if let Some(star) = &mut self.star {
            star.iter_mut().for_each(|c| c.nullable = true);
        }
    }
}

/// How a SELECT aggregates, which decides what aggregates and grouped columns can yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grouping {
    /// No GROUP BY: an aggregate may run over no rows at all.
    None,
    /// Plain GROUP BY: every group has at least one row.
    Plain,
    /// ROLLUP / CUBE / GROUPING SETS: grouped columns are NULL in super-aggregate rows and
    /// the grand total may cover no rows.
    Sets,
}

/// Expression context: visible scopes (innermost last) and the grouping of the SELECT.
pub(super) struct Cx<'a, 'b> {
    pub scopes: &'a [&'b Scope],
    pub grouping: Grouping,
    /// Inside an aggregate's arguments, columns have their row-level nullability.
    pub in_aggregate: bool,
}

impl<'b> Cx<'_, 'b> {
    /// Nullability of a column reference, `None` when it cannot be resolved.
    pub fn column(&self, parts: &[Ident]) -> Option<bool> {
        let (col, level) = self.resolve(parts)?;
        // Grouping sets null out the owning SELECT's columns, except inside that SELECT's
        // own aggregates.
        let own_aggregate =
            self.in_aggregate && self.grouping == Grouping::Sets && level + 1 == self.scopes.len();
        Some(col.nullable || (self.scopes[level].grouping_sets && !own_aggregate))
    }

    /// The column a reference resolves to and the index of the scope it resolved in.
    pub fn resolve(&self, parts: &[Ident]) -> Option<(&'b Col, usize)> {
        let names: Vec<String> = parts.iter().map(norm).collect();
        match names.as_slice() {
            [col] => {
                for (level, scope) in self.scopes.iter().enumerate().rev() {
                    // An unknown relation could be the one that holds the column.
                    match find(scope.star.as_deref()?, col)? {
                        Some(c) => return Some((c, level)),
                        None => continue,
                    }
                }
                None
            }
            [rel, col] => {
                let (r, level) = self.rel(rel)?;
                find(r.cols.as_deref()?, col)?.map(|c| (c, level))
            }
            // `schema.table.column` matches only an unaliased table of that schema, which
            // the scopes do not record.
            _ => None,
        }
    }

    /// The FROM item visible under `alias` and the index of its scope; `None` when that
    /// cannot be told (an item whose alias is unknown might be the one named, or two
    /// items in one FROM share the name).
    pub(super) fn rel(&self, alias: &str) -> Option<(&'b Rel, usize)> {
        for (level, scope) in self.scopes.iter().enumerate().rev() {
            let mut hits = scope.rels.iter().filter(|r| r.alias == alias);
            match (hits.next(), hits.next()) {
                (Some(r), None) => return Some((r, level)),
                (Some(_), Some(_)) => return None,
                _ if scope.rels.iter().any(|r| r.alias.is_empty()) => return None,
                _ => {}
            }
        }
        None
    }

    /// The same context restricted to the innermost scope (the current SELECT's own).
    pub fn local(&self) -> Cx<'_, 'b> {
        Cx {
            scopes: &self.scopes[self.scopes.len().saturating_sub(1)..],
            grouping: self.grouping,
            in_aggregate: self.in_aggregate,
        }
    }
}

/// `name` among `cols`: `Ok(Some)` for exactly one match by a name Postgres also uses,
/// `Ok(None)` when it is surely not there, `None` when that cannot be told (two matches,
/// or a column whose name the analysis only guesses, which Postgres may call `name`).
fn find<'c>(cols: &'c [Col], name: &str) -> Option<Option<&'c Col>> {
    let mut hits = cols.iter().filter(|c| c.name == name);
    match (hits.next(), hits.next()) {
        (Some(c), None) if c.certain => Some(Some(c)),
        (None, _) if cols.iter().all(|c| c.certain) => Some(None),
        _ => None,
    }
}

/// Postgres truncates identifiers to this many bytes (NAMEDATALEN - 1).
pub(super) const MAX_IDENTIFIER: usize = 63;

/// An identifier as Postgres sees it: unquoted names fold to lower case, ASCII letters only
/// (Postgres leaves multi-byte UTF-8 letters as written), and every name is cut to 63
/// bytes (at a character boundary).
pub(super) fn norm(id: &Ident) -> String {
    let mut name = match id.quote_style {
        Some(_) => id.value.clone(),
        None => id.value.to_ascii_lowercase(),
    };
    if name.len() > MAX_IDENTIFIER {
        let mut end = MAX_IDENTIFIER;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => norm(id),
            ObjectNamePart::Function(f) => f.name.value.to_ascii_lowercase(),
        })
        .collect()
}

/// Result columns of `sql`, or `None` when the statement is not understood.
pub(super) fn statement_columns(sql: &str, catalog: &dyn Catalog) -> Option<Vec<Col>> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let statement = statements.pop()?;
    Analyzer {
        catalog,
        ctes: Vec::new(),
        view_depth: 0,
    }
    .statement(&statement)
}

/// The walk's state: the catalog and the CTEs in scope (innermost last).
pub(super) struct Analyzer<'c> {
    catalog: &'c dyn Catalog,
    ctes: Vec<(String, Option<Vec<Col>>)>,
    view_depth: usize,
}

impl Analyzer<'_> {
    fn statement(&mut self, statement: &Statement) -> Option<Vec<Col>> {
        match statement {
            Statement::Query(q) => self.query(q, &[]),
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return None;
                };
                let mut scope = self.named_relation(name, None, true);
                if let Some(alias) = &insert.table_alias {
                    scope.rels[0].alias = norm(&alias.alias);
                }
                self.returning(insert.returning.as_deref()?, &scope)
            }
            Statement::Update(update) => {
                let mut scope = self.target(std::slice::from_ref(&update.table))?;
                if let Some(
                    UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from),
                ) = &update.from
                {
                    scope.append(self.scope_of_from(from, &[]));
                }
                self.returning(update.returning.as_deref()?, &scope)
            }
            Statement::Delete(delete) => {
                let (sqlparser::ast::FromTable::WithFromKeyword(from)
                | sqlparser::ast::FromTable::WithoutKeyword(from)) = &delete.from;
                let mut scope = self.target(from)?;
                if let Some(using) = &delete.using {
                    scope.append(self.scope_of_from(using, &[]));
                }
                self.returning(delete.returning.as_deref()?, &scope)
            }
            _ => None,
        }
    }

    /// The target table of UPDATE / DELETE: always a table, never a CTE of that name.
    fn target(&mut self, items: &[TableWithJoins]) -> Option<Scope> {
        match items {
            [TableWithJoins {
                relation:
                    TableFactor::Table {
                        name,
                        alias,
                        args: None,
                        ..
                    },
                joins,
            }] if joins.is_empty() => Some(self.named_relation(name, alias.as_ref(), true)),
            _ => None,
        }
    }

    fn returning(&mut self, items: &[SelectItem], scope: &Scope) -> Option<Vec<Col>> {
        let scopes = [scope];
        let cx = Cx {
            scopes: &scopes,
            grouping: Grouping::None,
            in_aggregate: false,
        };
        self.projection(items, scope, &cx)
    }

    pub(super) fn query(&mut self, q: &Query, outer: &[&Scope]) -> Option<Vec<Col>> {
        let base = self.ctes.len();
        if let Some(with) = &q.with {
            self.with(with, outer);
        }
        let out = self.set_expr(&q.body, outer);
        self.ctes.truncate(base);
        out
    }

    fn with(&mut self, with: &With, outer: &[&Scope]) {
        let base = self.ctes.len();
        if with.recursive {
            // Under WITH RECURSIVE every CTE is visible in every body, also the later
            // ones: unknown until analysed.
            for cte in &with.cte_tables {
                self.ctes.push((norm(&cte.alias.name), None));
            }
        }
        for (i, cte) in with.cte_tables.iter().enumerate() {
            let name = norm(&cte.alias.name);
            let cols = if with.recursive {
                self.recursive_cte(&name, cte, outer)
            } else {
                self.query(&cte.query, outer)
            };
            let cols = cols.and_then(|c| rename(c, &cte.alias));
            if with.recursive {
                self.ctes[base + i].1 = cols;
            } else {
                self.ctes.push((name, cols));
            }
        }
    }

    /// A recursive CTE: start from its non-recursive term and re-analyse the whole body
    /// with the current guess until nullability stops growing (it only ever grows, so
    /// this ends after at most one round per column).
    fn recursive_cte(&mut self, name: &str, cte: &Cte, outer: &[&Scope]) -> Option<Vec<Col>> {
        let anchor = match cte.query.body.as_ref() {
            SetExpr::SetOperation { left, .. } => left.as_ref(),
            other => other,
        };
        let mut guess = self.set_expr(anchor, outer)?;
        guess = rename(guess, &cte.alias)?;
        for _ in 0..=guess.len() {
            self.ctes.push((name.to_owned(), Some(guess.clone())));
            let next = self.query(&cte.query, outer);
            self.ctes.pop();
            let next = rename(next?, &cte.alias)?;
            if next.len() != guess.len() {
                return None;
            }
            let merged: Vec<Col> = guess
                .iter()
                .zip(&next)
                .map(|(g, n)| Col {
                    nullable: g.nullable || n.nullable,
                    exotic: g.exotic || n.exotic,
                    // Where the server reports an origin for a recursive CTE is not relied on.
                    origin: None,
                    ..g.clone()
                })
                .collect();
            if merged == guess {
                return Some(guess);
            }
            guess = merged;
        }
        None
    }

    fn set_expr(&mut self, body: &SetExpr, outer: &[&Scope]) -> Option<Vec<Col>> {
        match body {
            SetExpr::Select(select) => self.select(select, outer),
            SetExpr::Query(q) => self.query(q, outer),
            SetExpr::SetOperation {
                left, op, right, ..
            } => {
                let left = self.set_expr(left, outer)?;
                let right = self.set_expr(right, outer)?;
                if left.len() != right.len() {
                    return None;
                }
                let combine = |l: bool, r: bool| match op {
                    SetOperator::Union => l || r,
                    // A row in the result matched a row of each side.
                    SetOperator::Intersect => l && r,
                    SetOperator::Except | SetOperator::Minus => l,
                };
                Some(
                    left.into_iter()
                        .zip(right)
                        .map(|(l, r)| Col {
                            nullable: combine(l.nullable, r.nullable),
                            exotic: l.exotic || r.exotic,
                            name: l.name,
                            certain: l.certain,
                            origin: None,
                        })
                        .collect(),
                )
            }
            SetExpr::Values(values) => {
                let cx = Cx {
                    scopes: outer,
                    grouping: Grouping::None,
                    in_aggregate: false,
                };
                let width = values.rows.first()?.content.len();
                let mut cols: Vec<Col> = (1..=width)
                    .map(|i| Col {
                        exotic: false,
                        ..Col::computed(format!("column{i}"), false, true)
                    })
                    .collect();
                for row in &values.rows {
                    if row.content.len() != width {
                        return None;
                    }
                    for (col, e) in cols.iter_mut().zip(&row.content) {
                        col.nullable |= self.expr(e, &cx);
                        col.exotic |= super::exprs::exotic(self, e, &cx);
                    }
                }
                Some(cols)
            }
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => self.statement(s),
            _ => None,
        }
    }

    fn select(&mut self, select: &Select, outer: &[&Scope]) -> Option<Vec<Col>> {
        let mut scope = self.scope_of_from(&select.from, outer);
        let grouping = match &select.group_by {
            GroupByExpr::Expressions(exprs, modifiers) => {
                let sets = !modifiers.is_empty()
                    || exprs.iter().any(|e| {
                        matches!(e, Expr::Rollup(_) | Expr::Cube(_) | Expr::GroupingSets(_))
                    });
                // `GROUP BY ()` is the grand total: one row even over no input.
                let grand_total = exprs
                    .iter()
                    .any(|e| matches!(e, Expr::Tuple(t) if t.is_empty()));
                match (sets, exprs.is_empty() || grand_total) {
                    (true, _) => Grouping::Sets,
                    (false, true) => Grouping::None,
                    (false, false) => Grouping::Plain,
                }
            }
            GroupByExpr::All(_) => Grouping::Sets,
        };
        scope.grouping_sets = grouping == Grouping::Sets;
        let mut scopes: Vec<&Scope> = outer.to_vec();
        scopes.push(&scope);
        let cx = Cx {
            scopes: &scopes,
            grouping,
            in_aggregate: false,
        };
        self.projection(&select.projection, &scope, &cx)
    }

    fn projection(&mut self, items: &[SelectItem], scope: &Scope, cx: &Cx) -> Option<Vec<Col>> {
        let sets = cx.grouping == Grouping::Sets;
        let mut out = Vec::new();
        for item in items {
            let (expr, name, certain) = match item {
                SelectItem::UnnamedExpr(e) => (
                    e,
                    super::exprs::output_name(e),
                    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)),
                ),
                SelectItem::ExprWithAlias { expr, alias } => (expr, norm(alias), true),
                SelectItem::Wildcard(_) => {
                    out.extend(scope.star.as_ref()?.iter().map(|c| Col {
                        nullable: c.nullable || sets,
                        ..c.clone()
                    }));
                    continue;
                }
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => {
                    let [alias] = name_parts(n).try_into().ok()?;
                    let (rel, level) = cx.rel(&alias)?;
                    let nulled = sets || cx.scopes[level].grouping_sets;
                    out.extend(rel.cols.as_ref()?.iter().map(|c| Col {
                        nullable: c.nullable || nulled,
                        ..c.clone()
                    }));
                    continue;
                }
                _ => return None,
            };
            // Under ROLLUP / CUBE / GROUPING SETS any grouping key — a column, an
            // expression, a constant named by its alias or position, an outer column — is
            // NULL in the rows that aggregate it away. Only an aggregate (or GROUPING())
            // itself is never nulled that way.
            let nullable = self.expr(expr, cx) || (sets && !super::exprs::is_aggregate(expr));
            let resolved = match expr {
                Expr::Identifier(id) => cx.resolve(std::slice::from_ref(id)),
                Expr::CompoundIdentifier(ids) => cx.resolve(ids),
                _ => None,
            };
            out.push(Col {
                name,
                nullable,
                certain,
                origin: resolved.and_then(|(c, _)| c.origin),
                exotic: super::exprs::exotic(self, expr, cx),
            });
        }
        Some(out)
    }

    /// A FROM list: comma-separated items, each later one able to see the earlier ones
    /// when it is LATERAL.
    pub(super) fn scope_of_from(&mut self, from: &[TableWithJoins], outer: &[&Scope]) -> Scope {
        let mut acc = Scope::empty();
        for item in from {
            let next = self.join_tree(item, outer, &acc);
            acc.append(next);
        }
        acc
    }

    fn join_tree(&mut self, item: &TableWithJoins, outer: &[&Scope], before: &Scope) -> Scope {
        let mut left = self.factor(&item.relation, outer, before);
        for join in &item.joins {
            let mut visible = before.clone();
            visible.append(left.clone());
            let right = self.factor(&join.relation, outer, &visible);
            left = joined(left, right, join);
        }
        left
    }

    /// One FROM item; `lateral` is what a LATERAL subquery may refer to besides `outer`.
    fn factor(&mut self, factor: &TableFactor, outer: &[&Scope], lateral: &Scope) -> Scope {
        let alias_of = |alias: &Option<TableAlias>| alias.as_ref().map(|a| norm(&a.name));
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    // A function in FROM: its result columns are not analysed.
                    let fallback = name_parts(name).pop().unwrap_or_default();
                    return Scope::single(alias_of(alias).unwrap_or(fallback), None);
                }
                self.named_relation(name, alias.as_ref(), false)
            }
            TableFactor::Derived {
                lateral: is_lateral,
                subquery,
                alias,
                ..
            } => {
                let mut scopes = outer.to_vec();
                if *is_lateral {
                    scopes.push(lateral);
                }
                let cols = self.query(subquery, &scopes);
                let cols = match alias {
                    Some(a) => cols.and_then(|c| rename(c, a)),
                    None => cols,
                };
                Scope::single(alias_of(alias).unwrap_or_default(), cols)
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let inner = self.join_tree(table_with_joins, outer, lateral);
                match alias {
                    Some(a) => {
                        let cols = inner.star.and_then(|c| rename(c, a));
                        Scope::single(norm(&a.name), cols)
                    }
                    None => inner,
                }
            }
            TableFactor::Function { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::UNNEST { alias, .. } => {
                Scope::single(alias_of(alias).unwrap_or_default(), None)
            }
            _ => Scope::single(String::new(), None),
        }
    }

    /// A relation named in FROM, or (`dml_target`) the table an INSERT, UPDATE or DELETE
    /// changes: never a CTE, and a view's or a rule-bearing table's RETURNING is whatever
    /// its INSTEAD OF trigger or rule makes it, so nullable.
    fn named_relation(
        &mut self,
        name: &ObjectName,
        alias: Option<&TableAlias>,
        dml_target: bool,
    ) -> Scope {
        let mut parts = name_parts(name);
        let Some(relname) = parts.pop() else {
            return Scope::single(String::new(), None);
        };
        let schema = parts.pop();
        let alias_name = alias
            .map(|a| norm(&a.name))
            .unwrap_or_else(|| relname.clone());
        let cte = match (&schema, dml_target) {
            (None, false) => self
                .ctes
                .iter()
                .rev()
                .find(|(n, _)| *n == relname)
                .map(|(_, cols)| cols.clone()),
            _ => None,
        };
        let cols = match cte {
            Some(cols) => cols,
            None => self
                .catalog
                .relation(schema.as_deref(), &relname)
                .and_then(|rel| {
                    let mut cols = self.relation_columns(&rel)?;
                    if dml_target && (rel.kind == RelKind::View || rel.has_rules) {
                        cols.iter_mut().for_each(|c| c.nullable = true);
                    }
                    Some(cols)
                }),
        };
        let cols = match alias {
            Some(a) => cols.and_then(|c| rename(c, a)),
            None => cols,
        };
        Scope::single(alias_name, cols)
    }

    fn relation_columns(&mut self, rel: &Relation) -> Option<Vec<Col>> {
        let cols = |nullable: &dyn Fn(usize, &RelColumn) -> bool| -> Vec<Col> {
            rel.columns
                .iter()
                .enumerate()
                .map(|(i, c)| Col {
                    name: c.name.clone(),
                    nullable: nullable(i, c),
                    certain: true,
                    origin: Some((rel.oid, c.attnum)),
                    exotic: c.exotic,
                })
                .collect()
        };
        match rel.kind {
            // A materialized view holds the rows of its last refresh, which may predate a
            // NOT NULL constraint its definition now relies on.
            RelKind::MaterializedView => Some(cols(&|_, _| true)),
            RelKind::View => {
                let derived = self
                    .view(rel.view_definition.as_deref()?)
                    .filter(|d| d.len() == rel.columns.len());
                Some(match derived {
                    Some(d) => cols(&|i, _| d[i].nullable),
                    None => cols(&|_, _| true),
                })
            }
            // Postgres does not enforce NOT NULL on foreign tables.
            RelKind::ForeignTable => Some(cols(&|_, _| true)),
            RelKind::Table | RelKind::PartitionedTable => Some(cols(&|_, c| !c.not_null)),
            RelKind::Other => None,
        }
    }

    /// A view's definition, analysed on its own (the outer statement's CTEs are not
    /// visible in it).
    fn view(&mut self, definition: &str) -> Option<Vec<Col>> {
        if self.view_depth >= MAX_VIEW_DEPTH {
            return None;
        }
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, definition).ok()?;
        if statements.len() != 1 {
            return None;
        }
        let statement = statements.pop()?;
        let saved = std::mem::take(&mut self.ctes);
        self.view_depth += 1;
        let out = self.statement(&statement);
        self.view_depth -= 1;
        self.ctes = saved;
        out
    }

    /// The catalog the analysis reads.
    pub(super) fn catalog(&self) -> &dyn Catalog {
        self.catalog
    }

    /// Nullability of an expression (see [`super::exprs`]).
    pub(super) fn expr(&mut self, e: &Expr, cx: &Cx) -> bool {
        super::exprs::nullable(self, e, cx)
    }
}

/// Applies a table alias's column list (`AS t(a, b)`) by position.
fn rename(mut cols: Vec<Col>, alias: &TableAlias) -> Option<Vec<Col>> {
    if alias.columns.len() > cols.len() {
        return None;
    }
    for (col, new) in cols.iter_mut().zip(&alias.columns) {
        col.name = norm(&new.name);
        col.certain = true;
    }
    Some(cols)
}

/// Combines two FROM items according to a join.
fn joined(mut left: Scope, mut right: Scope, join: &Join) -> Scope {
    use JoinOperator as J;
    let (constraint, left_nullable, right_nullable) = match &join.join_operator {
        J::Join(c) | J::Inner(c) | J::StraightJoin(c) | J::CrossJoin(c) => (c, false, false),
        J::Left(c) | J::LeftOuter(c) => (c, false, true),
        J::Right(c) | J::RightOuter(c) => (c, true, false),
        J::FullOuter(c) => (c, true, true),
        _ => {
            left.append(right);
            left.star = None;
            for rel in &mut left.rels {
                rel.cols = None;
            }
            return left;
        }
    };
    let using: Option<Vec<String>> = match constraint {
        JoinConstraint::Using(names) => names
            .iter()
            .map(|n| name_parts(n).pop())
            .collect::<Option<Vec<_>>>(),
        JoinConstraint::Natural => match (&left.star, &right.star) {
            // Which names the sides share is only known when every name is Postgres's.
            (Some(l), Some(r)) if l.iter().chain(r).all(|c| c.certain) => Some(
                l.iter()
                    .filter(|c| r.iter().any(|d| d.name == c.name))
                    .map(|c| c.name.clone())
                    .collect(),
            ),
            _ => None,
        },
        JoinConstraint::On(_) | JoinConstraint::None => Some(Vec::new()),
    };
    // Each merged column must be found, by a name Postgres also uses, on both sides.
    let sides = |name: &String| -> Option<(bool, bool)> {
        let side = |s: &Scope| Some(find(s.star.as_deref()?, name)??.nullable);
        Some((side(&left)?, side(&right)?))
    };
    let sides: Option<Vec<(bool, bool)>> = using
        .as_ref()
        .and_then(|names| names.iter().map(sides).collect());
    let (Some(using), Some(sides)) = (using, sides) else {
        // A NATURAL or USING join whose columns are not known: nothing is known of the
        // result.
        left.append(right);
        left.make_nullable();
        left.star = None;
        return left;
    };
    // Merged columns take their values before the outer join pads a side with NULLs.
    let merged: Vec<Col> = using
        .iter()
        .zip(sides)
        .map(|(name, (l, r))| {
            let nullable = match (left_nullable, right_nullable) {
                (false, false) => l && r,
                (false, true) => l,
                (true, false) => r,
                // FULL JOIN: COALESCE(left, right), either of which may be missing.
                (true, true) => l || r,
            };
            Col::computed(name.clone(), nullable, true)
        })
        .collect();
    if left_nullable {
        left.make_nullable();
    }
    if right_nullable {
        right.make_nullable();
    }
    let star = match (left.star, right.star) {
        (Some(l), Some(r)) => {
            let rest = |cols: Vec<Col>| cols.into_iter().filter(|c| !using.contains(&c.name));
            Some(merged.into_iter().chain(rest(l)).chain(rest(r)).collect())
        }
        _ => None,
    };
    left.rels.extend(right.rels);
    Scope {
        rels: left.rels,
        star,
        grouping_sets: false,
    }
}
