from django.db import migrations

# The starting vocabulary as policies.vocabulary held it, frozen here: this migration loads the same whatever that
# module becomes (it still serves ensure_vocabulary, for tests that flushed the tables).

# GB/T 2260 codes of the 34 provincial-level divisions: (code, full name, short name).
PROVINCES = [
    (110000, "北京市", "北京"),
    (120000, "天津市", "天津"),
    (130000, "河北省", "河北"),
    (140000, "山西省", "山西"),
    (150000, "内蒙古自治区", "内蒙古"),
    (210000, "辽宁省", "辽宁"),
    (220000, "吉林省", "吉林"),
    (230000, "黑龙江省", "黑龙江"),
    (310000, "上海市", "上海"),
    (320000, "江苏省", "江苏"),
    (330000, "浙江省", "浙江"),
    (340000, "安徽省", "安徽"),
    (350000, "福建省", "福建"),
    (360000, "江西省", "江西"),
    (370000, "山东省", "山东"),
    (410000, "河南省", "河南"),
    (420000, "湖北省", "湖北"),
    (430000, "湖南省", "湖南"),
    (440000, "广东省", "广东"),
    (450000, "广西壮族自治区", "广西"),
    (460000, "海南省", "海南"),
    (500000, "重庆市", "重庆"),
    (510000, "四川省", "四川"),
    (520000, "贵州省", "贵州"),
    (530000, "云南省", "云南"),
    (540000, "西藏自治区", "西藏"),
    (610000, "陕西省", "陕西"),
    (620000, "甘肃省", "甘肃"),
    (630000, "青海省", "青海"),
    (640000, "宁夏回族自治区", "宁夏"),
    (650000, "新疆维吾尔自治区", "新疆"),
    (710000, "台湾省", "台湾"),
    (810000, "香港特别行政区", "香港"),
    (820000, "澳门特别行政区", "澳门"),
]

# (slug, name, keywords)
THEMES = [
    ("business-environment", "营商环境", ["营商环境", "助企纾困", "涉企服务", "惠企", "市场主体"]),
    ("e-licence", "电子证照", ["电子证照", "电子证明", "电子签章", "证照数据", "免证办"]),
    ("cross-province", "跨省通办", ["跨省通办", "川渝通办", "跨省办", "异地办", "跨区域通办"]),
    ("one-network", "一网通办", ["一网通办", "全程网办", "网上办", "一网办", "一网流转"]),
    ("one-matter", "一件事/一窗受理", ["一件事", "一事联办", "一窗受理", "一窗综合受理", "一窗式", "打包办"]),
    ("mobile", "掌上办/移动政务", ["掌上办", "指尖办", "移动政务", "移动端", "小程序", "App", "APP"]),
    ("digital-government", "数字政府建设", ["数字政府", "数字化改革", "数字化转型", "数字变革"]),
    (
        "approval-reform",
        "审批改革/放管服",
        ["放管服", "审批制度改革", "证照分离", "告知承诺", "极简审批", "一业一证", "行政审批"],
    ),
    ("data-sharing", "数据共享", ["数据共享", "共享交换", "数据资源", "互通互认", "数据归集", "共享复用"]),
    ("smart-service", "智能服务", ["智能", "智慧", "刷脸", "视频办", "人工智能"]),
    ("grassroots", "基层治理", ["基层治理", "村级", "社区治理", "基层政权", "向基层延伸", "家门口"]),
    ("social-assistance", "社会救助", ["社会救助", "低保", "兜底保障", "困难群众"]),
    (
        "regulation",
        "监管执法",
        ["监管执法", "行政执法", "行政裁量", "双随机", "事中事后监管", "信用监管", "互联网+监管"],
    ),
]

# (short name used in tags, full name)
PARTNERS = [("新点", "国泰新点软件股份有限公司")]


def load(apps, schema_editor):
    """Create whatever of the starting vocabulary is missing; never overwrite staff's edits."""
    Region = apps.get_model("policies", "Region")
    Theme = apps.get_model("policies", "Theme")
    Partner = apps.get_model("policies", "Partner")
    for code, name, short_name in PROVINCES:
        Region.objects.get_or_create(code=code, defaults={"name": name, "short_name": short_name})
    for position, (slug, name, keywords) in enumerate(THEMES):
        Theme.objects.get_or_create(
            slug=slug, defaults={"name": name, "keywords": "\n".join(keywords), "position": position}
        )
    for name, full_name in PARTNERS:
        Partner.objects.get_or_create(name=name, defaults={"full_name": full_name})


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
