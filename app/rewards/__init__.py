"""Points and first-come coupons."""
