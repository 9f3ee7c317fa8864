"""Writes the Excel fixtures of the source tests from orders.csv (run once; the .xlsx files are
kept in the repository beside this script). Needs openpyxl.

- orders.xlsx: a "Notes" sheet first, then "Orders" with the rows of orders.csv as an account
  manager's workbook holds them: ids as numbers, timestamps as Excel date cells (serial numbers
  shown as dates), amounts as numbers. Loaded with `sheet = "Orders"`, its RFM must equal the
  CSV's.
- orders_bad.xlsx: one sheet "Orders" in which row 3 holds a text date in the day.month.year
  layout (read with the source's timestamp_format), row 4 an amount typed as text that is no
  number, and row 5 an Excel error value (#DIV/0!).
"""

import csv
import datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def orders():
    with open(HERE / "orders.csv", newline="") as f:
        return list(csv.DictReader(f))


def main():
    wb = Workbook()
    notes = wb.active
    notes.title = "Notes"
    notes["A1"] = "Orders exported by hand from the shop's back office."
    sheet = wb.create_sheet("Orders")
    sheet.append(["Order Line", "Customer", "Date", "Total", "Category"])
    for r in orders():
        sheet.append([
            int(r["transaction_id"]),
            r["customer_id"],
            datetime.datetime.fromisoformat(r["ts"]),
            float(r["amount"]),
            r["product_category"],
        ])
        sheet.cell(row=sheet.max_row, column=3).number_format = "yyyy-mm-dd hh:mm"
    wb.save(HERE / "orders.xlsx")

    wb = Workbook()
    sheet = wb.active
    sheet.title = "Orders"
    sheet.append(["Order Line", "Customer", "Date", "Total", "Category"])
    sheet.append([1, "C001", datetime.datetime(2024, 12, 5, 9, 30), 10.0, "Books"])
    sheet.append([2, "C002", "06.12.2024 14:05", 20.5, "Toys"])
    sheet.append([3, "C003", datetime.datetime(2024, 12, 6, 11, 0), "twelve", "Toys"])
    sheet.append([4, "C001", datetime.datetime(2024, 12, 7, 12, 0), None, "Garden"])
    error = sheet.cell(row=5, column=4)
    error.value = "#DIV/0!"
    error.data_type = "e"
    sheet.append([5, "C004", datetime.datetime(2024, 12, 7, 16, 45), 7.25, "Garden"])
    for row in range(2, 7):
        cell = sheet.cell(row=row, column=3)
        if isinstance(cell.value, datetime.datetime):
            cell.number_format = "dd.mm.yyyy hh:mm"
    wb.save(HERE / "orders_bad.xlsx")


if __name__ == "__main__":
    main()
