-- The sample as an Odoo-like database: `crm sample --postgres URL` creates these tables, fills
-- them with COPY and adds the keys last. Names and types follow Odoo's (res_partner,
-- product_category, product_product, sale_order, sale_order_line, mail_message); columns the
-- shop export has and Odoo lacks carry Odoo's custom-field prefix `x_`.
create table res_partner (
    id integer primary key,
    ref varchar,                 -- the shop's customer number (empty on a bad export row)
    name varchar,
    email varchar,
    phone varchar,
    create_date timestamp,       -- UTC, as Odoo stores it
    country_name varchar,
    state_name varchar,
    city varchar,
    x_birthdate date,
    x_gender varchar,
    x_income_band varchar,
    x_acquisition_source varchar,
    x_loyalty_member boolean,
    x_loyalty_tier varchar,
    x_accepts_marketing boolean,
    x_tags varchar,
    write_date timestamp not null default now()
);
create table product_category (
    id integer primary key,
    name varchar not null
);
create table product_product (
    id integer primary key,
    default_code varchar not null, -- the SKU
    categ_id integer
);
create table sale_order (
    id integer primary key,
    name varchar not null,       -- SO-...
    partner_id integer,
    date_order timestamp,        -- UTC
    currency varchar,
    x_sales_channel varchar,
    x_store varchar,
    x_coupon varchar
);
create table sale_order_line (
    id integer primary key,
    order_id integer not null,
    sequence integer not null,
    product_id integer,
    product_uom_qty numeric,
    price_total numeric(12, 2),  -- negative on a refund
    write_date timestamp not null default now()
);
create table mail_message (
    id integer primary key,
    model varchar not null default 'res.partner',
    res_id integer,              -- the partner
    date timestamp,              -- UTC
    message_type varchar,        -- Email, Chat, Phone, Web
    x_kind varchar,              -- campaign_sent, campaign_open, ticket, survey, ...
    x_campaign varchar,
    x_ticket varchar,
    x_resolved_date timestamp,
    x_csat integer,
    x_nps integer,
    x_outcome varchar,
    x_agent varchar
);
