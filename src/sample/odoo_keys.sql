-- Run after the COPY: the keys an Odoo database has, so the rows are known to hang together.
alter table product_product add foreign key (categ_id) references product_category (id);
alter table sale_order add foreign key (partner_id) references res_partner (id);
alter table sale_order_line add foreign key (order_id) references sale_order (id);
alter table sale_order_line add foreign key (product_id) references product_product (id);
alter table mail_message add foreign key (res_id) references res_partner (id);
create index on sale_order (partner_id);
create index on sale_order_line (order_id);
create index on sale_order_line (write_date);
create index on mail_message (res_id);
analyze;
