//! `#[lifeguard(...)]` attributes of a model struct and its fields.

use syn::{DeriveInput, Field, Ident, LitStr, Path};

/// The struct's attributes.
pub struct StructAttrs {
    /// `table = "name"` or `"schema.name"`.
    pub table: LitStr,
    /// `has_many(..)` / `has_one(..)`, in order.
    pub relations: Vec<RelationAttr>,
    /// `cache(ttl = "60s")`: the TTL in milliseconds.
    pub cache_ttl_ms: Option<u64>,
    /// `timestamps`: the fields of the `created_at` and `updated_at` columns are
    /// server-managed (as if marked `created_at` / `updated_at`).
    pub timestamps: bool,
    /// `hooks`: the model implements `lifeguard::model::Hooks`, run around every write.
    pub hooks: bool,
}

/// Which side of a one-to-many a struct-level relation is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    HasMany,
    HasOne,
}

/// `has_many(name = films, model = Film, fk = language_id)`, optionally
/// `through = FilmActor, other = actor_id` (then `fk` and `other` are fields of the join model).
pub struct RelationAttr {
    pub kind: RelationKind,
    /// The relation's method name.
    pub name: Ident,
    /// The related model.
    pub model: Path,
    /// The field (of `model`, or of `through`) holding this model's key.
    pub fk: Ident,
    /// The join model of a many-to-many.
    pub through: Option<Path>,
    /// The join model's field holding `model`'s key.
    pub other: Option<Ident>,
}

/// One field's attributes.
#[derive(Default)]
pub struct FieldAttrs {
    /// `primary_key`.
    pub primary_key: bool,
    /// `column = "name"`: the column when it differs from the field name.
    pub column: Option<LitStr>,
    /// `default`: an insert leaves this column to the server (serial keys, `now()`).
    pub default: bool,
    /// `belongs_to = Model`: this field holds that model's primary key.
    pub belongs_to: Option<Path>,
    /// `created_at`: set to `now()` by insert and upsert, never written otherwise.
    pub created_at: bool,
    /// `updated_at`: set to `now()` by every insert, upsert and update.
    pub updated_at: bool,
    /// `soft_delete`: this nullable timestamp marks a deleted row; `delete` sets it and
    /// selects skip the rows that have it.
    pub soft_delete: bool,
}

pub fn parse_struct(input: &DeriveInput) -> syn::Result<StructAttrs> {
    let mut table = None;
    let mut relations = Vec::new();
    let mut cache_ttl_ms = None;
    let (mut timestamps, mut hooks) = (false, false);
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("lifeguard"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else if meta.path.is_ident("has_many") {
                relations.push(parse_relation(&meta, RelationKind::HasMany)?);
                Ok(())
            } else if meta.path.is_ident("has_one") {
                relations.push(parse_relation(&meta, RelationKind::HasOne)?);
                Ok(())
            } else if meta.path.is_ident("cache") {
                cache_ttl_ms = Some(parse_cache(&meta)?);
                Ok(())
            } else if meta.path.is_ident("timestamps") {
                timestamps = true;
                Ok(())
            } else if meta.path.is_ident("hooks") {
                hooks = true;
                Ok(())
            } else {
                Err(meta.error("expected `table = \"...\"`, `has_many(...)`, `has_one(...)`, `timestamps`, `hooks` or `cache(ttl = \"60s\")`"))
            }
        })?;
    }
    let table = table.ok_or_else(|| {
        syn::Error::new_spanned(
            &input.ident,
            "a model needs its table: #[lifeguard(table = \"name\")] (or \"schema.name\")",
        )
    })?;
    Ok(StructAttrs {
        table,
        relations,
        cache_ttl_ms,
        timestamps,
        hooks,
    })
}

/// `cache(ttl = "60s")` (units `ms`, `s`, `m`, `h`); the TTL in milliseconds.
fn parse_cache(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<u64> {
    let mut ttl = None;
    meta.parse_nested_meta(|m| {
        if m.path.is_ident("ttl") {
            let lit = m.value()?.parse::<LitStr>()?;
            ttl = Some(parse_duration_ms(&lit.value()).ok_or_else(|| {
                syn::Error::new(
                    lit.span(),
                    "expected a duration such as \"500ms\", \"60s\", \"5m\" or \"1h\"",
                )
            })?);
            Ok(())
        } else {
            Err(m.error("expected `ttl = \"60s\"`"))
        }
    })?;
    ttl.ok_or_else(|| meta.error("expected cache(ttl = \"60s\")"))
}

fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => n,
        "s" => n.checked_mul(1_000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    (ms > 0).then_some(ms)
}

fn parse_relation(
    meta: &syn::meta::ParseNestedMeta<'_>,
    kind: RelationKind,
) -> syn::Result<RelationAttr> {
    let (mut name, mut model, mut fk, mut through, mut other) = (None, None, None, None, None);
    meta.parse_nested_meta(|m| {
        let v = m.value()?;
        if m.path.is_ident("name") {
            name = Some(v.parse::<Ident>()?);
        } else if m.path.is_ident("model") {
            model = Some(v.parse::<Path>()?);
        } else if m.path.is_ident("fk") {
            fk = Some(v.parse::<Ident>()?);
        } else if m.path.is_ident("through") {
            through = Some(v.parse::<Path>()?);
        } else if m.path.is_ident("other") {
            other = Some(v.parse::<Ident>()?);
        } else {
            return Err(m.error("expected `name`, `model`, `fk`, `through` or `other`"));
        }
        Ok(())
    })?;
    let usage =
        "expected (name = method, model = Model, fk = field[, through = JoinModel, other = field])";
    let (Some(name), Some(model), Some(fk)) = (name, model, fk) else {
        return Err(meta.error(usage));
    };
    if through.is_some() != other.is_some() || (through.is_some() && kind == RelationKind::HasOne) {
        return Err(meta.error(
            "`through` and `other` go together, on `has_many` only: through = JoinModel, other = its field holding the related model's key",
        ));
    }
    Ok(RelationAttr {
        kind,
        name,
        model,
        fk,
        through,
        other,
    })
}

pub fn parse_field(field: &Field) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("lifeguard"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                out.primary_key = true;
            } else if meta.path.is_ident("default") {
                out.default = true;
            } else if meta.path.is_ident("column") {
                out.column = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("belongs_to") {
                out.belongs_to = Some(meta.value()?.parse::<Path>()?);
            } else if meta.path.is_ident("created_at") {
                out.created_at = true;
            } else if meta.path.is_ident("updated_at") {
                out.updated_at = true;
            } else if meta.path.is_ident("soft_delete") {
                out.soft_delete = true;
            } else {
                return Err(meta.error(
                    "expected `primary_key`, `default`, `column = \"...\"`, `belongs_to = Model`, `created_at`, `updated_at` or `soft_delete`",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}
