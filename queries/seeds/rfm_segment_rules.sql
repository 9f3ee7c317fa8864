-- Grain: one row per named-segment rule, evaluated by ascending priority; the first match wins.
-- Definition: METRICS.md "Named RFM segments" (the RF grid; M does not change the segment).
-- Scores are on the 5-bin grid; with other rfm.bins, analysis/rfm.sql maps scores onto it.
-- Every one of the 125 (R, F, M) cells matches at least one rule (tested).
select * from (
    values
        (1, 'Champions', 5, 5, 4, 5, 1, 5, 'Reward them, give early access, ask for reviews and referrals'),
        (2, 'Loyal Customers', 3, 4, 4, 5, 1, 5, 'Upsell higher-value products, offer a loyalty tier'),
        (3, 'Potential Loyalists', 4, 5, 2, 3, 1, 5, 'Offer membership and related products'),
        (4, 'New Customers', 5, 5, 1, 1, 1, 5, 'Onboard them and give early support'),
        (5, 'Promising', 4, 4, 1, 1, 1, 5, 'Build awareness, offer trials'),
        (6, 'Need Attention', 3, 3, 3, 3, 1, 5, 'Limited-time, personalised offers'),
        (7, 'About to Sleep', 3, 3, 1, 2, 1, 5, 'Recommend popular products, offer a reactivation discount'),
        (8, 'Can''t Lose Them', 1, 2, 5, 5, 1, 5, 'Reach out personally'),
        (9, 'At Risk', 1, 2, 3, 4, 1, 5, 'Send a personalised win-back campaign'),
        (10, 'Hibernating', 1, 2, 1, 2, 1, 5, 'Offer other relevant products and special discounts')
) as rules (priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, action)
