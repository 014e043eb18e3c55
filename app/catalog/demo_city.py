"""The demo city around Seoul City Hall: stores, menus and options, generated deterministically."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

CITY_HALL = (37.5665, 126.9780)
MAX_DISTANCE_KM = 2.8

# (group, dish, price in won); each store serves at least 8 of its category's dishes.
DISHES: dict[str, list[tuple[str, str, int]]] = {
    "korean": [
        ("Rice", "Bibimbap", 9000),
        ("Rice", "Kimchi Fried Rice", 8000),
        ("Rice", "Bulgogi Rice Bowl", 10000),
        ("Stews", "Kimchi Jjigae", 8500),
        ("Stews", "Doenjang Jjigae", 8000),
        ("Stews", "Sundubu Jjigae", 9000),
        ("Sides", "Gimbap", 4000),
        ("Sides", "Japchae", 7000),
        ("Sides", "Haemul Pajeon", 13000),
    ],
    "chicken": [
        ("Chicken", "Fried Chicken", 18000),
        ("Chicken", "Yangnyeom Chicken", 19000),
        ("Chicken", "Soy Garlic Chicken", 19000),
        ("Chicken", "Half and Half", 19500),
        ("Boneless", "Boneless Fried", 19000),
        ("Boneless", "Boneless Spicy", 20000),
        ("Sides", "Chicken Radish", 1000),
        ("Sides", "Cheese Balls", 5000),
        ("Sides", "French Fries", 4000),
    ],
    "pizza": [
        ("Pizza", "Margherita", 16000),
        ("Pizza", "Pepperoni", 18000),
        ("Pizza", "Bulgogi Pizza", 21000),
        ("Pizza", "Potato Pizza", 20000),
        ("Pizza", "Four Cheese", 21000),
        ("Pasta", "Tomato Pasta", 11000),
        ("Pasta", "Cream Pasta", 12000),
        ("Sides", "Garlic Bread", 4500),
        ("Sides", "Caesar Salad", 7500),
    ],
    "burger": [
        ("Burgers", "Classic Burger", 7000),
        ("Burgers", "Cheese Burger", 7500),
        ("Burgers", "Bulgogi Burger", 8000),
        ("Burgers", "Chicken Burger", 7500),
        ("Burgers", "Double Bacon", 10500),
        ("Sides", "Fries", 3000),
        ("Sides", "Onion Rings", 3500),
        ("Drinks", "Cola", 2000),
        ("Drinks", "Milkshake", 4500),
    ],
    "chinese": [
        ("Noodles", "Jjajangmyeon", 7000),
        ("Noodles", "Jjamppong", 8500),
        ("Noodles", "Ganjjajang", 8000),
        ("Rice", "Fried Rice", 8000),
        ("Rice", "Japchae Rice", 9000),
        ("Dishes", "Tangsuyuk", 18000),
        ("Dishes", "Kkanpunggi", 22000),
        ("Dishes", "Mapo Tofu", 15000),
        ("Sides", "Fried Dumplings", 6000),
    ],
    "japanese": [
        ("Sushi", "Salmon Sushi", 15000),
        ("Sushi", "Assorted Sushi", 18000),
        ("Sushi", "Tuna Roll", 12000),
        ("Bowls", "Katsudon", 9500),
        ("Bowls", "Salmon Don", 14000),
        ("Noodles", "Tonkotsu Ramen", 10000),
        ("Noodles", "Udon", 8000),
        ("Fried", "Tonkatsu", 11000),
        ("Fried", "Karaage", 9000),
    ],
    "snack": [
        ("Tteokbokki", "Tteokbokki", 5000),
        ("Tteokbokki", "Rose Tteokbokki", 7000),
        ("Tteokbokki", "Rabokki", 6500),
        ("Fried", "Assorted Twigim", 5000),
        ("Fried", "Fried Dumplings", 4500),
        ("Gimbap", "Tuna Gimbap", 4500),
        ("Gimbap", "Cheese Gimbap", 4500),
        ("Soup", "Eomuk Soup", 4000),
        ("Soup", "Sundae", 5000),
    ],
    "cafe": [
        ("Coffee", "Americano", 4000),
        ("Coffee", "Cafe Latte", 4800),
        ("Coffee", "Vanilla Latte", 5300),
        ("Tea", "Yuja Tea", 5000),
        ("Tea", "Green Tea Latte", 5500),
        ("Bakery", "Croissant", 3800),
        ("Bakery", "Bagel", 3500),
        ("Dessert", "Cheesecake", 6500),
        ("Dessert", "Bingsu", 11000),
    ],
}
OPTIONS: dict[str, list[tuple[str, int]]] = {
    "korean": [("Extra rice", 1000), ("Extra egg", 1000), ("Extra spicy", 0)],
    "chicken": [("Extra sauce", 500), ("Cheese powder", 1000), ("Cola 1.25L", 2500)],
    "pizza": [("Cheese crust", 3000), ("Large size", 5000), ("Pickles", 0)],
    "burger": [("Add cheese", 500), ("Add bacon", 1500), ("Make it a set", 3000)],
    "chinese": [("Large portion", 1000), ("Extra spicy", 0), ("Extra sauce", 500)],
    "japanese": [("Extra wasabi", 0), ("Large portion", 2000), ("Miso soup", 1500)],
    "snack": [("Add cheese", 1000), ("Add egg", 500), ("Extra spicy", 0)],
    "cafe": [("Extra shot", 500), ("Oat milk", 500), ("Iced", 0)],
}
STORE_NAMES: dict[str, list[str]] = {
    "korean": ["Sejong Hansik", "Deoksugung Table", "Jongno Jip"],
    "chicken": ["City Hall Chicken", "Crispy Bird Myeongdong", "Gwanghwamun Chikin"],
    "pizza": ["Seoul Slice", "Namsan Pizza", "Cheonggye Pizzeria"],
    "burger": ["Bulgogi Burger Bar", "Euljiro Burgers", "Patty House"],
    "chinese": ["Hong Kong Banjeom", "Red Lantern", "Jung-gu Jjajang"],
    "japanese": ["Sakura Sushi", "Ramen Alley", "Katsu Kitchen"],
    "snack": ["Mom's Tteokbokki", "Bunsik Corner", "Sindang Snacks"],
    "cafe": ["Plaza Coffee", "Stone Wall Cafe", "Bukchon Bakery"],
}


@dataclass(frozen=True)
class DemoItem:
    group: str
    name: str
    price: int
    description: str
    options: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class DemoStore:
    name: str
    category: str
    address: str
    lat: float
    lng: float
    phone: str
    min_order: int
    delivery_fee: int
    items: tuple[DemoItem, ...]


def _position(rng: random.Random) -> tuple[float, float]:
    # Uniform over a disc: the square root keeps stores from crowding the centre.
    distance = MAX_DISTANCE_KM * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111.195
    dlng = distance * math.sin(bearing) / (111.195 * math.cos(math.radians(CITY_HALL[0])))
    return round(CITY_HALL[0] + dlat, 6), round(CITY_HALL[1] + dlng, 6)


def demo_city() -> list[DemoStore]:
    """The same 24 stores in 8 categories on every run, each with 8 or 9 dishes."""
    rng = random.Random(20261124)
    stores = []
    for category, names in STORE_NAMES.items():
        for number, name in enumerate(names):
            lat, lng = _position(rng)
            dishes = DISHES[category][: 8 + number % 2]
            items = tuple(
                DemoItem(
                    group=group,
                    name=dish,
                    price=price + 500 * rng.randint(-1, 2),
                    description=f"{dish}, made to order at {name}.",
                    options=tuple(rng.sample(OPTIONS[category], k=rng.randint(1, 3))),
                )
                for group, dish, price in dishes
            )
            stores.append(
                DemoStore(
                    name=name,
                    category=category,
                    address=f"{rng.randint(1, 200)} {rng.choice(_STREETS)}, Jung-gu, Seoul",
                    lat=lat,
                    lng=lng,
                    phone=f"02-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                    min_order=rng.choice((0, 10000, 12000, 15000)),
                    delivery_fee=rng.choice((0, 2000, 3000, 3500)),
                    items=items,
                )
            )
    return stores


_STREETS = ("Sejong-daero", "Eulji-ro", "Namdaemun-ro", "Toegye-ro", "Jong-ro", "Myeongdong-gil")
