//! The made-up world the sample customers live in: calendar, seasons, campaigns, places,
//! products, and how one customer is drawn.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Gamma};

pub const CUSTOMER_HEADER: [&str; 16] = [
    "Customer ID",
    "Email",
    "Phone",
    "Full Name",
    "Accepts Marketing",
    "Created At",
    "Country",
    "Province",
    "City",
    "Birthday",
    "Gender",
    "Income Bracket",
    "Acquisition Source",
    "Loyalty Member",
    "Loyalty Tier",
    "Tags",
];

pub const ORDER_HEADER: [&str; 12] = [
    "Order ID",
    "Line ID",
    "Customer ID",
    "Order Date",
    "SKU",
    "Category",
    "Qty",
    "Total",
    "Currency",
    "Sales Channel",
    "Store",
    "Coupon",
];

/// (category, typical unit price, SKU prefix).
pub const CATEGORIES: [(&str, f64, &str); 12] = [
    ("Electronics", 120.0, "EL"),
    ("Accessories", 25.0, "AC"),
    ("Books", 15.0, "BK"),
    ("Stationery", 8.0, "ST"),
    ("Home", 45.0, "HM"),
    ("Kitchen", 35.0, "KT"),
    ("Garden", 40.0, "GD"),
    ("Outdoor", 60.0, "OD"),
    ("Clothing", 40.0, "CL"),
    ("Shoes", 70.0, "SH"),
    ("Beauty", 22.0, "BT"),
    ("Toys", 30.0, "TY"),
];

/// The category bought alongside each one (co-purchase affinity).
const PARTNER: [usize; 12] = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 8, 2];

/// (country, weight, [(region, [cities])], category preference boosts).
type Country = (
    &'static str,
    f64,
    &'static [(&'static str, &'static [&'static str])],
    &'static [usize],
);

const COUNTRIES: [Country; 6] = [
    (
        "US",
        0.38,
        &[
            ("California", &["Los Angeles", "San Francisco", "San Diego"]),
            ("New York", &["New York", "Buffalo"]),
            ("Texas", &["Houston", "Austin", "Dallas"]),
            ("Illinois", &["Chicago"]),
        ],
        &[0, 7],
    ),
    (
        "GB",
        0.20,
        &[
            ("England", &["London", "Manchester", "Birmingham"]),
            ("Scotland", &["Edinburgh", "Glasgow"]),
        ],
        &[2, 6],
    ),
    (
        "DE",
        0.16,
        &[
            ("Bavaria", &["Munich", "Nuremberg"]),
            ("Berlin", &["Berlin"]),
            ("North Rhine-Westphalia", &["Cologne", "Düsseldorf"]),
        ],
        &[5, 7],
    ),
    (
        "FR",
        0.12,
        &[
            ("Île-de-France", &["Paris"]),
            ("Auvergne-Rhône-Alpes", &["Lyon"]),
            ("Provence", &["Marseille", "Nice"]),
        ],
        &[10, 8],
    ),
    (
        "ES",
        0.07,
        &[("Madrid", &["Madrid"]), ("Catalonia", &["Barcelona"])],
        &[9, 8],
    ),
    (
        "NL",
        0.07,
        &[
            ("North Holland", &["Amsterdam"]),
            ("South Holland", &["Rotterdam", "The Hague"]),
        ],
        &[4, 11],
    ),
];

const FIRST: [&str; 20] = [
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Klara",
    "Liam", "Maya", "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Yusuf",
];
const LAST: [&str; 20] = [
    "Smith",
    "Müller",
    "Martin",
    "Garcia",
    "Jansen",
    "Brown",
    "Schmidt",
    "Dubois",
    "Lopez",
    "de Vries",
    "Taylor",
    "Weber",
    "Bernard",
    "Fernandez",
    "Bakker",
    "Wilson",
    "Fischer",
    "Moreau",
    "Ruiz",
    "Visser",
];
const INCOME: [(&str, f64, f64); 4] = [
    ("<30k", 0.25, 0.7),
    ("30-60k", 0.45, 1.0),
    ("60-100k", 0.22, 1.4),
    ("100k+", 0.08, 2.0),
];
const SOURCES: [(&str, f64); 7] = [
    ("Organic Search", 0.25),
    ("Paid Search", 0.20),
    ("Social", 0.18),
    ("Referral", 0.12),
    ("Email", 0.08),
    ("Marketplace", 0.10),
    ("Retail Store", 0.07),
];

pub fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut u = rng.random::<f64>() * total;
    for (v, w) in items {
        if u < *w {
            return *v;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

pub struct World {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub campaign_days: Vec<NaiveDate>,
}

impl World {
    pub fn new(start: NaiveDate, end: NaiveDate, _seed: u64) -> World {
        // A newsletter campaign every two weeks, plus one before each Black Friday.
        let mut campaign_days = Vec::new();
        let mut d = start + Duration::days(10);
        while d < end {
            campaign_days.push(d);
            d += Duration::days(14);
        }
        for y in start.year()..=end.year() {
            let bf = NaiveDate::from_ymd_opt(y, 11, 20).expect("valid");
            if bf >= start && bf < end {
                campaign_days.push(bf);
            }
        }
        campaign_days.sort();
        World {
            start,
            end,
            campaign_days,
        }
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// Relative purchase intensity at `t`: yearly season (a Black Friday to Christmas peak, a
    /// February low), weekly rhythm (weekends busier) and a gentle upward trend.
    pub fn season(&self, t: NaiveDateTime) -> f64 {
        let doy = t.ordinal() as f64;
        let peak = 0.6 * (-((doy - 340.0) / 22.0).powi(2)).exp();
        let low = -0.2 * (-((doy - 45.0) / 20.0).powi(2)).exp();
        let week =
            [0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.15][t.weekday().num_days_from_monday() as usize];
        let years = (t.date() - self.start).num_days() as f64 / 365.25;
        (1.0 + peak + low) * week * (1.0 + 0.12 * years)
    }

    pub fn max_season(&self) -> f64 {
        1.6 * 1.3 * (1.0 + 0.12 * self.days() as f64 / 365.25)
    }

    /// The same day, at a time people shop (mostly 8:00 to 23:00, evenings busiest).
    pub fn shop_hours(&self, t: NaiveDateTime, rng: &mut ChaCha8Rng) -> NaiveDateTime {
        let hour = pick(
            rng,
            &[
                (8, 1.0),
                (10, 2.0),
                (12, 3.0),
                (14, 2.0),
                (17, 2.5),
                (19, 3.5),
                (21, 2.5),
                (23, 0.5),
            ],
        );
        let h = (hour + rng.random_range(0..2)).min(23);
        t.date()
            .and_hms_opt(h, rng.random_range(0..60), rng.random_range(0..60))
            .unwrap_or(t)
            .with_nanosecond(0)
            .unwrap_or(t)
    }
}

pub struct Customer {
    pub id_num: u64,
    pub signup: NaiveDateTime,
    pub prospect: bool,
    pub rate_per_day: f64,
    pub dropout: f64,
    pub spend: f64,
    pub engagement: f64,
    pub marketing_opt_in: bool,
    pub store: u32,
    primary: usize,
    country: usize,
    region: usize,
    city: usize,
    birth: NaiveDate,
    gender: &'static str,
    income: &'static str,
    source: &'static str,
    loyalty: Option<&'static str>,
    name: String,
    email: String,
    phone: String,
    tags: &'static str,
}

impl Customer {
    pub fn draw(world: &World, rng: &mut ChaCha8Rng, i: u64) -> Customer {
        // Acquisition grows over time: signup density rises through the period.
        let u: f64 = rng.random();
        let day = (u.powf(0.75) * world.days() as f64) as i64;
        let signup = (world.start + Duration::days(day))
            .and_hms_opt(
                rng.random_range(7..23),
                rng.random_range(0..60),
                rng.random_range(0..60),
            )
            .expect("valid");
        let country = pick(
            rng,
            &COUNTRIES
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.1))
                .collect::<Vec<_>>(),
        );
        let regions = COUNTRIES[country].2;
        let region = rng.random_range(0..regions.len());
        let city = rng.random_range(0..regions[region].1.len());
        let age: i64 = 18
            + ((rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>()) / 3.0 * 62.0)
                as i64;
        let birth = world.start - Duration::days(age * 365 + rng.random_range(0..365));
        let gender = pick(rng, &[("F", 0.49), ("M", 0.47), ("X", 0.02), ("", 0.02)]);
        let (income, spend) = pick(
            rng,
            &INCOME
                .iter()
                .map(|(n, w, s)| ((*n, *s), *w))
                .collect::<Vec<_>>(),
        );
        let source = pick(rng, &SOURCES);
        let loyalty = (rng.random::<f64>() < 0.35)
            .then(|| pick(rng, &[("Bronze", 0.6), ("Silver", 0.3), ("Gold", 0.1)]));
        // Heterogeneous purchase rates (gamma, mean ~4 a year) and drop-out chances (beta).
        let mut rate = Gamma::<f64>::new(0.9, 0.0122)
            .expect("valid")
            .sample(rng)
            .max(0.0005);
        if loyalty.is_some() {
            rate *= 1.5;
        }
        let dropout = Beta::new(1.0, 3.0).expect("valid").sample(rng);
        let mut prefs: Vec<(usize, f64)> = (0..CATEGORIES.len()).map(|c| (c, 1.0)).collect();
        for &b in COUNTRIES[country].3 {
            prefs[b].1 += 1.5;
        }
        if age < 30 {
            prefs[0].1 += 1.0;
            prefs[8].1 += 1.0;
        } else if age > 55 {
            prefs[2].1 += 1.0;
            prefs[6].1 += 1.0;
        }
        let primary = pick(rng, &prefs);
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let local: String = format!("{first}.{last}")
            .to_lowercase()
            .replace([' ', 'ü'], "");
        let email = if rng.random::<f64>() < 0.005 {
            format!("{local}@@example") // a malformed address, as real exports have
        } else {
            format!("{local}{}@example.com", i % 97)
        };
        Customer {
            id_num: i + 1,
            signup,
            prospect: rng.random::<f64>() < 0.08,
            rate_per_day: rate,
            dropout,
            spend,
            engagement: rng.random::<f64>(),
            marketing_opt_in: rng.random::<f64>() < 0.7,
            store: rng.random_range(1..9),
            primary,
            country,
            region,
            city,
            birth,
            gender,
            income,
            source,
            loyalty,
            name: format!("{first} {last}"),
            email,
            phone: format!(
                "+{} 555 {:04} {:03}",
                [1, 44, 49, 33, 34, 31][country],
                rng.random_range(0..10000),
                rng.random_range(0..1000)
            ),
            tags: if rng.random::<f64>() < 0.03 {
                "vip"
            } else {
                ""
            },
        }
    }

    pub fn customer_id(&self) -> String {
        format!("C{:07}", self.id_num)
    }

    pub fn record(&self) -> Vec<String> {
        let (country, _, regions, _) = COUNTRIES[self.country];
        let (region, cities) = regions[self.region];
        vec![
            self.customer_id(),
            self.email.clone(),
            self.phone.clone(),
            self.name.clone(),
            if self.marketing_opt_in { "yes" } else { "no" }.into(),
            self.signup.format("%Y-%m-%d %H:%M:%S").to_string(),
            country.into(),
            region.into(),
            cities[self.city].into(),
            self.birth.format("%d/%m/%Y").to_string(),
            self.gender.into(),
            self.income.into(),
            self.source.into(),
            if self.loyalty.is_some() { "yes" } else { "no" }.into(),
            self.loyalty.unwrap_or("").into(),
            self.tags.into(),
        ]
    }

    pub fn sales_channel(&self, rng: &mut ChaCha8Rng) -> &'static str {
        let store = if self.source == "Retail Store" {
            0.6
        } else {
            0.12
        };
        pick(
            rng,
            &[
                ("web", 0.55),
                ("app", 0.25),
                ("store", store),
                ("marketplace", 0.06),
            ],
        )
    }

    pub fn pick_category(&self, rng: &mut ChaCha8Rng) -> usize {
        let u: f64 = rng.random();
        if u < 0.55 {
            self.primary
        } else if u < 0.85 {
            PARTNER[self.primary]
        } else {
            rng.random_range(0..CATEGORIES.len())
        }
    }
}
