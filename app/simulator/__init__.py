"""`delivery simulate`: a city of customers, owners and riders driven through the public API."""
