"""Spreadsheet import and export (.xlsx, .csv) with Chinese column headers, directly and through the admin."""

import datetime
import io

import openpyxl
import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from import_export.formats.base_formats import CSV, XLSX

from policies.models import Analysis, Briefing, Entry, ImportJob, ImportJobStatus, Kind, Level, Partner, Policy, Status
from policies.resources import AnalysisResource, BriefingResource, EntryResource, PolicyResource
from practices.models import Practice
from practices.resources import PracticeResource
from tests.factories import EntryFactory, PracticeEntryFactory, UserFactory

pytestmark = [pytest.mark.django_db]

POLICY_HEADERS = ["编号", "标题", "发文机关", "文号", "级别", "地区", "主题", "日期", "原文链接", "摘要", "状态"]
PRACTICE_HEADERS = ["编号", "标题", "级别", "地区", "合作伙伴", "主题", "日期", "原文链接", "摘要", "状态"]


def policy_row(**cells):
    row = {
        "编号": "",
        "标题": "关于推进政务服务“跨省通办”的实施意见",
        "发文机关": "江苏省人民政府办公厅",
        "文号": "苏政办发〔2022〕50号",
        "级别": "省级",
        "地区": "江苏",
        "主题": "跨省通办",
        "日期": "2022-08-01",
        "原文链接": "http://www.jiangsu.gov.cn/art/2022/8/1/art_46144_10000000.html",
        "摘要": "推动**高频事项**跨省通办。",
        "状态": "",
        **cells,
    }
    return [row[header] for header in POLICY_HEADERS]


def dataset(headers, *rows):
    return tablib.Dataset(*rows, headers=headers)


def import_policies(*rows, dry_run=False):
    return PolicyResource().import_data(dataset(POLICY_HEADERS, *rows), dry_run=dry_run)


def row_errors(result):
    """{row number: [messages]} of every refused row, validation errors and others alike."""
    errors = {row.number: [m for messages in row.error_dict.values() for m in messages] for row in result.invalid_rows}
    for number, row_errors in result.row_errors():
        errors.setdefault(number, []).extend(str(e.error) for e in row_errors)
    return errors


def regions_of(entry):
    return set(entry.regions.values_list("code", flat=True))


def themes_of(entry):
    return set(entry.themes.values_list("slug", flat=True))


def read_xlsx(content):
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# -- export ---------------------------------------------------------------------------------------


@pytest.fixture
def policies():
    return [
        EntryFactory(
            title="关于深化数字政府建设的实施意见",
            issuer="浙江省人民政府",
            doc_number="浙政发〔2022〕20号",
            regions=[330000],
            themes=["digital-government", "one-network"],
            published_on=datetime.date(2022, 8, 3),
            source_url="https://www.zj.gov.cn/art/2022/8/3/art_1229017138_2413541.html",
        ),
        EntryFactory(
            title="川渝通办事项清单（第三批）",
            issuer="四川省人民政府办公厅",
            regions=[510000, 500000],
            themes=["cross-province", "one-matter"],
            level=Level.PROVINCIAL,
            status=Status.DRAFT,
            published_on=datetime.date(2022, 8, 2),
        ),
    ]


def test_the_policy_export_has_chinese_headers_and_labels(policies):
    PracticeEntryFactory()  # not a policy: not exported
    data = PolicyResource().export()
    assert data.headers == POLICY_HEADERS
    rows = [dict(zip(data.headers, row, strict=True)) for row in data]
    assert [row["编号"] for row in rows] == [str(policies[0].pk), str(policies[1].pk)]
    zhejiang, sichuan = rows
    assert zhejiang["标题"] == "关于深化数字政府建设的实施意见"
    assert zhejiang["文号"] == "浙政发〔2022〕20号"
    assert zhejiang["级别"] == "省级"
    assert zhejiang["地区"] == "浙江"
    assert zhejiang["主题"] == "一网通办、数字政府建设"
    assert zhejiang["日期"] == "2022-08-03"
    assert zhejiang["状态"] == "已就绪"
    assert sichuan["地区"] == "重庆、四川"
    assert sichuan["主题"] == "跨省通办、一件事/一窗受理"
    assert sichuan["文号"] == ""
    assert sichuan["状态"] == "草稿"


def export_through_admin(client, url, file_format, query=""):
    form = client.get(url + query).context["form"]
    data = {"resource": "0", "format": file_format}
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    response = client.post(url + query, data)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    return response.content


def test_a_researcher_exports_policies_to_xlsx_from_the_admin(client, researcher, policies):
    client.force_login(researcher)
    content = export_through_admin(client, reverse("admin:policies_policy_export"), "0")
    headers, rows = read_xlsx(content)
    assert headers == POLICY_HEADERS
    assert [row["标题"] for row in rows] == ["关于深化数字政府建设的实施意见", "川渝通办事项清单（第三批）"]
    assert rows[0]["发文机关"] == "浙江省人民政府"
    assert rows[0]["地区"] == "浙江"
    assert rows[0]["原文链接"].startswith("https://www.zj.gov.cn/")
    assert rows[1]["地区"] == "重庆、四川"
    assert rows[1]["级别"] == "省级"
    assert rows[1]["日期"].date() == datetime.date(2022, 8, 2)  # a real date cell


def test_the_admin_export_follows_the_list_filter(client, researcher, policies):
    client.force_login(researcher)
    content = export_through_admin(client, reverse("admin:policies_policy_export"), "1", "?regions__code__exact=510000")
    rows = list(csv_rows(content))
    assert [row["标题"] for row in rows] == ["川渝通办事项清单（第三批）"]


def csv_rows(content):
    data = tablib.Dataset().load(content.decode("utf-8-sig"), format="csv")
    return (dict(zip(data.headers, row, strict=True)) for row in data)


def test_an_exported_xlsx_imports_back_unchanged(policies):
    content = XLSX().export_data(PolicyResource().export())
    data = XLSX().create_dataset(content)
    versions = Entry.history.count()
    result = PolicyResource().import_data(data, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["skip"] == 2
    assert Entry.history.count() == versions
    assert regions_of(policies[1]) == {510000, 500000}
    assert themes_of(policies[1]) == {"cross-province", "one-matter"}


@pytest.mark.parametrize(
    ("cell", "slugs"),
    [
        ("一件事/一窗受理", {"one-matter"}),
        ("一件事/一窗受理、跨省通办", {"one-matter", "cross-province"}),
        ("跨省通办/掌上办/移动政务", {"cross-province", "mobile"}),
        ("审批改革/放管服; one-network", {"approval-reform", "one-network"}),
    ],
)
def test_theme_names_holding_a_separator_are_read_whole(cell, slugs):
    result = import_policies(policy_row(主题=cell))
    assert result.totals["new"] == 1, row_errors(result)
    assert themes_of(Policy.objects.get()) == slugs


def test_sales_cannot_export_from_the_admin(client, sales):
    client.force_login(sales)
    url = reverse("admin:policies_policy_export")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# -- import ---------------------------------------------------------------------------------------


def test_importing_csv_creates_policies_with_regions_and_themes_named_any_way():
    rows = [
        policy_row(标题="江苏按简称", 地区="江苏", 主题="跨省通办"),
        policy_row(标题="江苏按代码", 地区="320000", 主题="e-licence"),
        policy_row(标题="江苏按全称", 地区="江苏省", 主题="电子证照、one-network"),
        policy_row(
            标题="川渝两地", 地区="四川/重庆", 主题="cross-province，数据共享", 级别="provincial", 状态="已就绪"
        ),
    ]
    content = CSV().export_data(dataset(POLICY_HEADERS, *rows))
    result = PolicyResource().import_data(CSV().create_dataset(content), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(result)
    assert result.totals["new"] == 4
    policies = {p.title: p for p in Policy.objects.all()}
    assert {title: regions_of(p) for title, p in policies.items()} == {
        "江苏按简称": {320000},
        "江苏按代码": {320000},
        "江苏按全称": {320000},
        "川渝两地": {510000, 500000},
    }
    assert themes_of(policies["江苏按简称"]) == {"cross-province"}
    assert themes_of(policies["江苏按代码"]) == {"e-licence"}
    assert themes_of(policies["江苏按全称"]) == {"e-licence", "one-network"}
    assert themes_of(policies["川渝两地"]) == {"cross-province", "data-sharing"}
    assert all(p.kind == Kind.POLICY and p.level == Level.PROVINCIAL for p in policies.values())
    assert policies["江苏按简称"].status == Status.DRAFT  # an empty status is a draft
    assert policies["川渝两地"].status == Status.READY
    assert policies["江苏按简称"].doc_number == "苏政办发〔2022〕50号"
    assert policies["江苏按简称"].published_on == datetime.date(2022, 8, 1)


def test_importing_xlsx_with_date_and_number_cells_creates_policies():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(POLICY_HEADERS)
    sheet.append(["", "江苏数字政府建设方案", "江苏省人民政府", None, "省级", 320000, "digital-government"])
    sheet["H2"] = datetime.datetime(2022, 8, 9)
    sheet.append(["", "北京市优化营商环境条例", "北京市人大常委会", None, "省级", "北京市", "营商环境"])
    sheet["H3"] = datetime.datetime(2022, 8, 10)
    buffer = io.BytesIO()
    workbook.save(buffer)

    result = PolicyResource().import_data(XLSX().create_dataset(buffer.getvalue()), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(result)
    jiangsu = Policy.objects.get(title="江苏数字政府建设方案")
    assert regions_of(jiangsu) == {320000}
    assert themes_of(jiangsu) == {"digital-government"}
    assert jiangsu.published_on == datetime.date(2022, 8, 9)
    assert jiangsu.doc_number == "" and jiangsu.summary == ""
    beijing = Policy.objects.get(title="北京市优化营商环境条例")
    assert regions_of(beijing) == {110000}
    assert beijing.level == Level.PROVINCIAL


def test_a_row_with_an_id_updates_that_policy_and_keeps_its_history(policies):
    zhejiang = policies[0]
    versions = zhejiang.history.count()
    result = import_policies(policy_row(编号=zhejiang.pk, 标题="关于深化数字政府建设的实施意见（修订）", 地区="浙江"))
    assert result.totals["update"] == 1, row_errors(result)
    zhejiang = Policy.objects.get(pk=zhejiang.pk)
    assert zhejiang.title.endswith("（修订）")
    assert themes_of(zhejiang) == {"cross-province"}
    assert zhejiang.history.count() > versions
    assert Entry.objects.count() == 2


def test_a_file_without_an_id_column_still_imports():
    headers = [h for h in POLICY_HEADERS if h != "编号"]
    row = policy_row()[1:]
    result = PolicyResource().import_data(dataset(headers, row), dry_run=False)
    assert result.totals["new"] == 1, row_errors(result)


def test_a_dry_run_creates_nothing():
    result = import_policies(policy_row(), dry_run=True)
    assert result.totals["new"] == 1
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"地区": "江苏、火星"}, "火星"),
        ({"地区": "999999"}, "999999"),
        ({"主题": "区块链"}, "区块链"),
        ({"日期": "2022-13-45"}, "2022-13-45"),
        ({"日期": "八月"}, "八月"),
        ({"日期": ""}, "日期"),
        ({"级别": "乡级"}, "乡级"),
        ({"状态": "已发布"}, "已发布"),
        ({"标题": ""}, "标题"),
    ],
)
def test_a_bad_cell_refuses_the_whole_file_with_a_row_error(cells, message, policies):
    before = list(Entry.objects.order_by("pk").values())
    result = import_policies(policy_row(标题="一条好的政策"), policy_row(**cells), policy_row(标题="又一条好的政策"))
    errors = row_errors(result)
    assert list(errors) == [2]
    assert any(message in error for error in errors[2]), errors
    assert list(Entry.objects.order_by("pk").values()) == before


def test_an_id_belonging_to_a_practice_is_refused_and_the_practice_left_alone():
    practice = PracticeEntryFactory(title="靖江政务服务跨省通办向基层延伸", regions=[320000])
    result = import_policies(policy_row(), policy_row(编号=practice.pk, 标题="被改成政策"))
    errors = row_errors(result)
    assert list(errors) == [2]
    assert f"编号 {practice.pk}" in errors[2][0]
    practice = Entry.objects.get(pk=practice.pk)
    assert (practice.kind, practice.title) == (Kind.PRACTICE, "靖江政务服务跨省通办向基层延伸")
    assert Entry.objects.count() == 1


def test_an_id_of_no_entry_is_refused():
    result = import_policies(policy_row(编号=987654))
    assert "987654" in row_errors(result)[1][0]
    assert not Entry.objects.exists()


# -- practices ------------------------------------------------------------------------------------


def practice_row(**cells):
    row = {
        "编号": "",
        "标题": "郑州高新区“企业服务一件事”改革",
        "级别": "",
        "地区": "河南",
        "合作伙伴": "新点",
        "主题": "一件事/一窗受理",
        "日期": "2022-08-04",
        "原文链接": "",
        "摘要": "打造**企业全生命周期**服务。",
        "状态": "",
        **cells,
    }
    return [row[header] for header in PRACTICE_HEADERS]


def test_practices_import_with_their_partner():
    rows = [practice_row(), practice_row(标题="昆山“昆如意”", 地区="320000", 合作伙伴="国泰新点软件股份有限公司")]
    result = PracticeResource().import_data(dataset(PRACTICE_HEADERS, *rows), dry_run=False)
    assert result.totals["new"] == 2, row_errors(result)
    practices = {p.title: p for p in Practice.objects.all()}
    assert all(p.kind == Kind.PRACTICE for p in practices.values())
    henan = practices["郑州高新区“企业服务一件事”改革"]
    assert regions_of(henan) == {410000}
    assert list(henan.partners.values_list("name", flat=True)) == ["新点"]
    assert themes_of(henan) == {"one-matter"}
    assert list(practices["昆山“昆如意”"].partners.values_list("name", flat=True)) == ["新点"]
    assert not Policy.objects.exists()


def test_the_practice_export_has_a_partner_column():
    practice = PracticeEntryFactory(regions=[410000])
    practice.partners.set(Partner.objects.filter(name="新点"))
    EntryFactory()  # a policy: not exported
    data = PracticeResource().export()
    assert data.headers == PRACTICE_HEADERS
    assert len(data) == 1
    assert dict(zip(data.headers, data[0], strict=True))["合作伙伴"] == "新点"


@pytest.mark.parametrize(
    ("cells", "message"),
    [({"合作伙伴": "华为"}, "华为"), ({"地区": "火星"}, "火星"), ({"日期": "2022/8/4"}, "2022/8/4")],
)
def test_a_practice_file_with_a_bad_cell_is_refused(cells, message):
    result = PracticeResource().import_data(
        dataset(PRACTICE_HEADERS, practice_row(), practice_row(**cells)), dry_run=False
    )
    errors = row_errors(result)
    assert list(errors) == [2]
    assert any(message in error for error in errors[2]), errors
    assert not Entry.objects.exists()


def test_a_practice_file_cannot_touch_a_policy():
    policy = EntryFactory(title="关于深化数字政府建设的实施意见")
    result = PracticeResource().import_data(dataset(PRACTICE_HEADERS, practice_row(编号=policy.pk)), dry_run=False)
    assert list(row_errors(result)) == [1]
    assert Entry.objects.get(pk=policy.pk).title == "关于深化数字政府建设的实施意见"
    assert not Practice.objects.exists()


# -- analyses, briefings and the sheet of all entries ----------------------------------------------


def test_analyses_import_with_their_body_and_keep_their_kind():
    policy = EntryFactory()
    headers = ["编号", "标题", "地区", "主题", "日期", "摘要", "正文"]
    rows = [
        ["", "以数字化改革推动政务服务提质增效", "浙江", "数字政府建设", "2022-08-20", "解读。", "## 一、背景\n正文。"],
        [policy.pk, "把政策改成解读", "", "", "2022-08-20", "", ""],
    ]
    result = AnalysisResource().import_data(dataset(headers, *rows), dry_run=False)
    assert list(row_errors(result)) == [2]
    assert Entry.objects.get(pk=policy.pk).kind == Kind.POLICY
    assert not Analysis.objects.exists()

    result = AnalysisResource().import_data(dataset(headers, rows[0]), dry_run=False)
    assert result.totals["new"] == 1, row_errors(result)
    analysis = Analysis.objects.get()
    assert analysis.kind == Kind.ANALYSIS
    assert analysis.body.startswith("## 一、背景")


def test_briefings_import_with_their_issuer():
    headers = ["标题", "发文机关", "级别", "日期"]
    rows = [["国务院政策例行吹风会", "国务院新闻办公室", "国家级", "2022-08-26"]]
    result = BriefingResource().import_data(dataset(headers, *rows), dry_run=False)
    assert result.totals["new"] == 1, row_errors(result)
    briefing = Briefing.objects.get()
    assert (briefing.kind, briefing.issuer, briefing.level) == (Kind.BRIEFING, "国务院新闻办公室", Level.NATIONAL)


def test_the_sheet_of_all_entries_has_chinese_headers_and_a_kind_column(client, researcher):
    practice = PracticeEntryFactory(regions=[410000])
    practice.partners.set(Partner.objects.filter(name="新点"))
    EntryFactory(regions=[320000])
    data = EntryResource().export()
    assert data.headers == ["编号", "类型", *POLICY_HEADERS[1:6], "合作伙伴", *POLICY_HEADERS[6:]]
    rows = {row[1]: dict(zip(data.headers, row, strict=True)) for row in data}
    assert set(rows) == {"政策", "创新实践"}
    assert rows["创新实践"]["合作伙伴"] == "新点"
    assert rows["政策"]["地区"] == "江苏"

    client.force_login(researcher)
    assert client.get(reverse("admin:policies_entry_export")).status_code == 200
    assert client.get(reverse("admin:policies_entry_import")).status_code == 403  # import through a kind


# -- the admin's two-step import ----------------------------------------------------------------


def upload(name, rows, file_format=CSV):
    content = file_format().export_data(dataset(POLICY_HEADERS, *rows))
    if isinstance(content, str):
        content = content.encode("utf-8")
    return SimpleUploadedFile(name, content)


def test_a_researcher_imports_a_csv_through_the_admin_in_two_steps(client, researcher):
    client.force_login(researcher)
    url = reverse("admin:policies_policy_import")
    assert client.get(url).status_code == 200

    rows = [policy_row(), policy_row(标题="川渝通办事项清单", 地区="四川、重庆")]
    response = client.post(url, {"import_file": upload("政策.csv", rows)})
    assert response.status_code == 302  # to the import job's page (policies.imports)
    job = ImportJob.objects.get()
    assert (job.status, job.result["new"]) == (ImportJobStatus.READY, 2)
    assert not Entry.objects.exists()  # the first step is a dry run

    response = client.post(reverse("admin:policies_importjob_confirm", args=[job.pk]))
    assert response.status_code == 302
    assert set(Policy.objects.values_list("title", flat=True)) == {
        "关于推进政务服务“跨省通办”的实施意见",
        "川渝通办事项清单",
    }
    assert regions_of(Policy.objects.get(title="川渝通办事项清单")) == {510000, 500000}


def test_the_admin_shows_row_errors_and_offers_no_confirmation(client, researcher):
    client.force_login(researcher)
    rows = [policy_row(), policy_row(地区="火星", 日期="2022-02-30")]
    response = client.post(reverse("admin:policies_policy_import"), {"import_file": upload("政策.xlsx", rows, XLSX)})
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.context["job"].status == ImportJobStatus.INVALID
    assert not response.context["can_confirm"]
    content = response.content.decode()
    assert "火星" in content and "2022-02-30" in content
    assert not Entry.objects.exists()


def test_import_needs_the_add_permission(client, sales):
    url = reverse("admin:policies_policy_import")
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.set(sales.user_permissions.all() | sales.groups.get().permissions.all())
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    response = client.post(url, {"resource": "0", "format": "1", "import_file": upload("政策.csv", [policy_row()])})
    assert response.status_code == 403
    assert not Entry.objects.exists()
