//! The canonical tables of DATA-CONTRACT.md, the contract every stage shares: which tables the
//! warehouse holds, their columns, types and rules. Ingest parses exports into them
//! (`ingest::schema`), the config maps export columns onto them, the engine reads them.

use serde::Deserialize;

/// The warehouse table holding the customer-key dictionary (customer_id -> customer_key).
pub const CUSTOMER_KEYS: &str = "customer_keys";

/// The tables whose rows carry `customer_key`.
pub const KEYED: [Table; 3] = [Table::Customers, Table::Transactions, Table::Interactions];

/// The order of every transactions file a load writes (the manifest's `sorted_by`).
pub const SORT_KEYS: [&str; 2] = ["customer_key", "order_key"];

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Customers,
    Transactions,
    Interactions,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Customers, Table::Transactions, Table::Interactions];

    pub fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Transactions => "transactions",
            Table::Interactions => "interactions",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Date,
    Timestamp,
    Decimal,
    Int,
    Bool,
    Enum(&'static [&'static str]),
    Score(i64, i64),
}

#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Personal data (DATA-CONTRACT.md "Privacy").
    pub personal: bool,
}

const fn col(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: false,
        personal: false,
    }
}
const fn req(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: true,
        personal: false,
    }
}
const fn personal(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: Kind::Str,
        required: false,
        personal: true,
    }
}

pub const CHANNELS: &[&str] = &[
    "email",
    "phone",
    "chat",
    "social",
    "meeting",
    "sms",
    "web",
    "in_person",
    "other",
];
pub const INTERACTION_KINDS: &[&str] = &[
    "campaign_sent",
    "campaign_open",
    "campaign_click",
    "ticket",
    "survey",
    "note",
    "call",
    "meeting",
    "other",
];

pub const CUSTOMERS: &[ColumnSpec] = &[
    req("customer_id", Kind::Str),
    col("signup_date", Kind::Date),
    col("country", Kind::Str),
    col("region", Kind::Str),
    col("city", Kind::Str),
    col("birth_date", Kind::Date),
    col("age", Kind::Int),
    col("gender", Kind::Str),
    col("income_band", Kind::Str),
    col("acquisition_channel", Kind::Str),
    col("loyalty_member", Kind::Bool),
    col("loyalty_tier", Kind::Str),
    personal("email"),
    personal("phone"),
    personal("name"),
];

/// `transaction_id` is not required: where an export has none it is derived (see `ingest::load`).
pub const TRANSACTIONS: &[ColumnSpec] = &[
    col("transaction_id", Kind::Str),
    req("customer_id", Kind::Str),
    req("ts", Kind::Timestamp),
    req("amount", Kind::Decimal),
    col("currency", Kind::Str),
    col("order_id", Kind::Str),
    col("quantity", Kind::Int),
    col("product_id", Kind::Str),
    col("product_category", Kind::Str),
    col("channel", Kind::Str),
    col("store_id", Kind::Str),
];

pub const INTERACTIONS: &[ColumnSpec] = &[
    req("interaction_id", Kind::Str),
    req("customer_id", Kind::Str),
    req("ts", Kind::Timestamp),
    req("channel", Kind::Enum(CHANNELS)),
    req("kind", Kind::Enum(INTERACTION_KINDS)),
    col("campaign_id", Kind::Str),
    col("ticket_id", Kind::Str),
    col("resolved_ts", Kind::Timestamp),
    col("csat", Kind::Score(1, 5)),
    col("nps", Kind::Score(0, 10)),
    col("outcome", Kind::Str),
];

pub fn columns(table: Table) -> &'static [ColumnSpec] {
    match table {
        Table::Customers => CUSTOMERS,
        Table::Transactions => TRANSACTIONS,
        Table::Interactions => INTERACTIONS,
    }
}

/// The column that identifies a row of the table.
pub fn id_column(table: Table) -> &'static str {
    match table {
        Table::Customers => "customer_id",
        Table::Transactions => "transaction_id",
        Table::Interactions => "interaction_id",
    }
}

pub fn is_canonical(table: Table, name: &str) -> bool {
    columns(table).iter().any(|c| c.name == name)
}

pub fn canonical_names(table: Table) -> Vec<&'static str> {
    columns(table).iter().map(|c| c.name).collect()
}
