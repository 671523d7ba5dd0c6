"""Sample agency data for the demo and the tests: branches, customers, products, bookings, agents."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import utcnow
from handlers.domain.models import (
    AgentStatus,
    Booking,
    Branch,
    Customer,
    PriceItem,
    Product,
    Resource,
    Setting,
)

BRANCHES = [("SH01", "上海人民广场营业部", "上海"), ("SH02", "上海徐家汇营业部", "上海"),
            ("HZ01", "杭州武林营业部", "杭州"), ("DZ01", "德州金桥营业部", "德州")]
CUSTOMERS = [
    ("张建国", "13801234567", "上海", "VIP", "SH01"), ("李秀英", "13912345678", "杭州", "普通", "HZ01"),
    ("王小明", "13700001111", "南京", "普通", "SH02"), ("赵雪", "13655556666", "苏州", "普通", "SH01"),
    ("孙立伟", "13522223333", "德州", "普通", "DZ01"), ("周海燕", "13344445555", "上海", "VIP", "SH02"),
    ("吴志强", "13966667777", "上海", "普通", "SH01"), ("郑丽华", "13888889999", "杭州", "普通", "HZ01"),
]
PRODUCTS = [
    ("CR-JP-6", "邮轮", "歌诗达邮轮 上海—福冈—长崎 6天5晚", "日本", 6, "5999"),
    ("CR-SEA-8", "邮轮", "皇家加勒比 东南亚 8天7晚", "新加坡/泰国", 8, "8999"),
    ("TR-YN-7", "旅游", "云南昆明大理丽江 7日跟团游", "云南", 7, "3899"),
    ("TR-XA-5", "旅游", "西安兵马俑华清池 5日跟团游", "陕西", 5, "2599"),
    ("TR-HS-3", "旅游", "黄山宏村 3日跟团游", "安徽", 3, "1299"),
    ("FT-SY-5", "自由行", "三亚亚龙湾 5天4晚 机票+酒店", "海南", 5, "4299"),
    ("FT-CM-6", "自由行", "清迈 6天5晚 自由行", "泰国", 6, "3699"),
]
BOOKINGS = [  # customer phone, product code, tour id, departure, party, status
    ("13801234567", "TR-YN-7", "YN-2026-1118", date(2026, 11, 18), 2, "已出行"),
    ("13801234567", "CR-JP-6", "CR-2026-1220", date(2026, 12, 20), 2, "已预订"),
    ("13912345678", "TR-XA-5", "XA-2026-1102", date(2026, 11, 2), 3, "已出行"),
    ("13700001111", "FT-SY-5", None, date(2026, 12, 28), 2, "已预订"),
    ("13655556666", "TR-HS-3", "HS-2026-1205", date(2026, 12, 5), 4, "已预订"),
    ("13344445555", "CR-SEA-8", "CR-2027-0115", date(2027, 1, 15), 2, "已预订"),
]
AGENT_DESKS = {"agent1": "邮轮", "agent2": "旅游", "agent3": "自由行"}

PRICE_ITEMS = [  # category, code, name, standard, unit, price, extra
    ("sight", "SIGHT-TSQ", "泰山门票", None, "人", "115", {}),
    ("sight", "SIGHT-SK", "三孔（孔庙、孔府、孔林）联票", None, "人", "140", {}),
    ("sight", "SIGHT-DMH", "大明湖", None, "人", "0", {}),
    ("sight", "SIGHT-BTQ", "趵突泉", None, "人", "40", {}),
    ("room", "ROOM-ECO", "经济型酒店标间", "经济", "间夜", "220", {"single_supplement": "160"}),
    ("room", "ROOM-STD", "舒适型酒店标间", "舒适", "间夜", "360", {"single_supplement": "260"}),
    ("room", "ROOM-LUX", "豪华型酒店标间", "豪华", "间夜", "680", {"single_supplement": "520"}),
    ("meal", "MEAL-ECO", "团餐（八菜一汤）", "经济", "人餐", "30", {}),
    ("meal", "MEAL-STD", "团餐（十菜一汤）", "舒适", "人餐", "50", {}),
    ("meal", "MEAL-LUX", "特色宴", "豪华", "人餐", "90", {}),
    ("meal", "MEAL-HALAL", "清真餐", "清真", "人餐", "55", {}),
    ("vehicle", "VEH-19", "19座中巴", "19", "车天", "900", {"seats": 19}),
    ("vehicle", "VEH-33", "33座大巴", "33", "车天", "1300", {"seats": 33}),
    ("vehicle", "VEH-53", "53座大巴", "53", "车天", "1800", {"seats": 53}),
    ("guide", "GUIDE-LOCAL", "地陪导游", None, "天", "300", {}),
    ("transport", "TRAIN-G", "高铁二等座（济南—上海）", "火车", "人", "398", {}),
    ("transport", "FLIGHT-Y", "经济舱（济南—昆明）", "飞机", "人", "1250", {}),
]
RESOURCES = [  # kind, code, name, capacity per date, supplier
    ("room", "HOTEL-TA-STD", "泰安舒适型酒店", 40, "泰山宾馆"),
    ("room", "HOTEL-QF-ECO", "曲阜经济型酒店", 25, "曲阜阙里宾舍"),
    ("meal", "REST-TA", "泰安团餐餐厅", 200, "泰安老街餐厅"),
    ("meal", "REST-HALAL", "清真餐厅", 60, "济南清真饭庄"),
    ("vehicle", "COACH-33", "33座大巴", 3, "德州交通集团车队"),
    ("vehicle", "COACH-53", "53座大巴", 2, "德州交通集团车队"),
    ("guide", "GUIDE-POOL", "地陪导游", 4, "金桥旅行社导游部"),
    ("transport", "TRAIN-JN-SH", "高铁 济南—上海 团体票", 80, "铁路客运"),
]
SETTINGS = {"booking_desk": {"change_notice_hours": 48,
                             "refund_rules": [{"hours_before": 168, "refund_percent": 100},
                                              {"hours_before": 72, "refund_percent": 80},
                                              {"hours_before": 48, "refund_percent": 50}],
                             "payment_reminder_hours": 24}}


def seed_agency(session: Session) -> bool:
    """Insert the sample data once; returns False when it is there already."""
    if session.execute(select(func.count(Branch.code))).scalar():
        return False
    session.add_all(Branch(code=c, name=n, city=city) for c, n, city in BRANCHES)
    session.flush()
    if not session.execute(select(func.count(Customer.id))).scalar():
        session.add_all(Customer(name=n, phone=p, city=c, level=lv, branch_code=b) for n, p, c, lv, b in CUSTOMERS)
    session.add_all(Product(code=c, desk=d, name=n, destination=dest, days=days, price=Decimal(price))
                    for c, d, n, dest, days, price in PRODUCTS)
    session.flush()
    customers = {c.phone: c for c in session.execute(select(Customer)).scalars()}
    products = {p.code: p for p in session.execute(select(Product)).scalars()}
    for i, (phone, code, tour, depart, party, status) in enumerate(BOOKINGS, start=1):
        product = products[code]
        session.add(Booking(code=f"BK2026{i:04d}", customer_id=customers[phone].id, product_id=product.id,
                            tour_id=tour, depart_on=depart, party_size=party, amount=product.price * party,
                            status=status))
    now = utcnow()
    session.add_all(AgentStatus(username=u, desk=d, status="available", updated_at=now)
                    for u, d in AGENT_DESKS.items())
    session.add_all(PriceItem(category=cat, code=code, name=name, standard=std, unit=unit, price=Decimal(price),
                              extra=extra) for cat, code, name, std, unit, price, extra in PRICE_ITEMS)
    session.add_all(Resource(kind=k, code=c, name=n, capacity=cap, supplier=sup) for k, c, n, cap, sup in RESOURCES)
    session.add_all(Setting(key=k, value=v, updated_at=now) for k, v in SETTINGS.items())
    return True
