-- Grain: one row per customer and product category they bought (a purchase before as_of).
with

final as (
    select distinct customer_id, product_category as category
    from stg_transactions
    where is_purchase and product_category is not null and product_category <> ''
)

select * from final
