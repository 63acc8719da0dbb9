#!/usr/bin/env python3
"""Writes en/LC_MESSAGES/xinyi.po: the English of every @tr("...") string in
ui/*.slint (Chinese is the source language). Run after changing UI text;
a test fails when a string has no English here.

A string with a context, @tr("ctx" => "..."), is keyed ("ctx", "...") here:
the same Chinese that needs other English words in another place.

    python3 assets/translations/make_po.py
"""
import pathlib
import re

EN = {
    "站点": "Site",
    "信易+ 守信激励核验": "Credit-incentive check",
    "English": "中文",
    "切换语言": "Switch language",
    "演示": "Demo",
    "演示面板": "Demo panel",
    "工作人员": "Staff",
    "网络": "Network",
    "数据版本": "Data version",
    "离线时限": "Offline limit",
    "待上传": "To upload",
    "关闭演示面板": "Close demo panel",
    "站点（每个站点一台终端）": "Site (one terminal per site)",
    "出示示例码（不需摄像头）": "Present a sample code (no camera needed)",
    "演示工作人员：": "Demo staff: ",
    "已确认，优惠已记录": "Confirmed: the benefit is recorded",
    "核验通过，可享受优惠": "Verified: the benefit applies",
    "姓名": "Name",
    "优惠内容": "Benefit",
    "原价": "Price",
    "优惠": "Discount",
    "应付": "To pay",
    "取消": "Cancel",
    "确认优惠": "Confirm benefit",
    "下一位": "Next",
    "● 联网核对": "● Checked online",
    "○ 离线核对": "○ Checked offline",
    "已核对持卡人证件，与姓名一致": "Holder's ID checked: matches the name",
    "印制卡：请先核对持卡人身份证件与姓名一致，并勾选。": "Printed card: check that the holder's ID document matches the name, and tick it first.",
    "金额": "Amount",
    "快捷金额": "Quick amount",
    "金额键盘": "Amount keypad",
    "随行亲属": "Companions",
    "减少随行亲属": "Fewer companions",
    "随行亲属人数": "Number of companions",
    "增加随行亲属": "More companions",
    "不能享受本次优惠": "The benefit cannot be given",
    "您可以：": "What you can do:",
    "如对本次服务有意见，可扫码投诉建议。": "To comment on this service, scan the complaint code.",
    "如对本次服务有意见，可凭查询编号投诉建议。":
        "To comment on this service, complain or suggest with the reference below.",
    "查询编号": "Reference",
    "原因代码": "Reason code",
    "名单异议": "List objection",
    "扫码提出异议，编号已自动带入": "Scan to object; the reference is filled in",
    "投诉建议": "Complaints",
    "扫码投诉或提建议": "Scan to complain or suggest",
    "摄像头画面": "Camera view",
    "正在打开摄像头…": "Opening the camera…",
    "摄像头已关闭": "Camera switched off",
    "未连接摄像头": "No camera connected",
    "请用扫码枪扫码，或在下方打开二维码图片。": "Use the handheld scanner, or open a QR picture below.",
    "二维码图片路径，如 /media/usb/code.png": "Path of a QR picture, e.g. /media/usb/code.png",
    "图片路径": "Picture path",
    "打开图片": "Open picture",
    "请出示守信激励码": "Please show your credit-incentive code",
    "粤省事（个人）或粤商通（企业）→ 守信激励码，对准摄像头或扫码枪":
        "粤省事 (persons) or 粤商通 (enterprises) → credit-incentive code, to the camera or scanner",
    "选择本次办理的优惠": "Choose the benefit to give",
    "本窗口办理的优惠": "Benefit at this counter",
    "尚无本站点的优惠措施数据，请同步数据。": "No measures for this site yet: sync the data.",
    "工作人员签到": "Staff sign-in",
    "工号": "Staff no.",
    "密码": "PIN",
    "签到键盘": "Sign-in keypad",
    "返回核验": "Back to checking",
    "签到": "Sign in",
    "作废记录（需主管授权）": "Void a record (supervisor)",
    "金额输错": "Wrong amount",
    "顾客取消": "Customer cancelled",
    "重复操作": "Done twice",
    "主管工号": "Supervisor no.",
    "主管密码": "Supervisor PIN",
    "主管键盘": "Supervisor keypad",
    "不作废": "Keep it",
    "确认作废": "Void it",
    "优惠措施": "Measure",
    "笔数": "Count",
    "优惠金额": "Discount",
    "今日尚无优惠记录": "No benefits recorded today",
    "最近记录": "Recent records",
    "拒绝": "Refused",
    "通过": "OK",
    "作废": "Void",
    "摄像头": "Camera",
    "关闭摄像头": "Switch camera off",
    "打开摄像头": "Switch camera on",
    "切换摄像头": "Next camera",
    "界面语言": "Language",
    "中文 / English": "中文 / English",
    "本站点": "This site",
    "已签到": "Signed in",
    "班次统计": "Shift totals",
    "设置": "Settings",
    "立即同步": "Sync now",
    "退出登录": "Sign out",
    "本机时钟可能不准，暂停核验": "This terminal's clock looks wrong: checks paused",
    "本机名单数据过旧，暂停核验": "The list data is too old: checks paused",
    "请工作人员处理后再核验": "Staff must fix this before the next check",
    "连接网络后点“立即同步”，数据更新后即可继续核验。":
        "Connect the network and press “Sync now”; checks resume once the data is current.",
    "没有网络时：用U盘导入信用办提供的最新数据包。":
        "No network: import the latest data bundle from the credit office on a USB stick.",
    "仍无法解决：请联系市信用办。": "Still stuck: call the city credit office.",
    "核对本机日期和时间（北京时间），改正后重新核验。":
        "Check this terminal's date and time (Beijing time), correct them, then check again.",
    "时间正确后点“立即同步”，与信用平台重新核对。":
        "With the time right, press “Sync now” to check in with the registry.",
    "返回": "Back",
    "键盘": "Keypad",
    "清空": "Clear",
    "小数点": "Decimal point",
    "退格": "Backspace",
    "人员": "Staff",
    "在线": "Online",
    "离线": "Offline",
    "文件同步": "File sync",
    "连接中…": "Connecting…",
    "尚无数据": "No data yet",
    "数据版本 {}": "Data version {}",
    "请先同步数据": "Sync data first",
    "数据已过期 {} 小时 {} 分": "Data stale for {} h {} min",
    "数据已过期 {} 分钟": "Data stale for {} min",
    "可离线核验 {} 小时 {} 分": "Offline OK for {} h {} min",
    "可离线核验 {} 分钟": "Offline OK for {} min",
    "待上传 {} 条": "{} to upload",
    "工作人员未签到": "No staff signed in",
    "主管 {}（{}）": "Supervisor {} ({})",
    "店员 {}（{}）": "Clerk {} ({})",
    "今日已使用 {} 次，共可用 {} 次": "Used {} of {} today",
    "本周已使用 {} 次，共可用 {} 次": "Used {} of {} this week",
    "本月已使用 {} 次，共可用 {} 次": "Used {} of {} this month",
    "本年已使用 {} 次，共可用 {} 次": "Used {} of {} this year",
    "已记录 第{}号 · {}": "Recorded No. {} · {}",
    "已记录 第{}号 · {} · 优惠 {} · 应收 {}": "Recorded No. {} · {} · discount {} · collect {}",
    "已作废·已上传": "voided·uploaded",
    "已作废·待上传": "voided·to upload",
    "已上传": "uploaded",
    # Refusal reasons (the refused page, the staff page's records).
    "本机时间异常，暂停核验": "This terminal's clock is wrong: verification is paused",
    ("refusal", "本机名单数据过旧，暂停核验"): "This terminal's list data is too old to verify",
    "无法识别的二维码": "This is not a credit-incentive code",
    "二维码签发机构无法确认": "The code's issuer cannot be confirmed",
    "二维码校验失败（可能被篡改）": "The code failed its security check",
    "二维码时间异常": "The code's time is ahead of this terminal",
    "二维码已过期": "The code has expired",
    "二维码有效期异常": "The code's validity period is not allowed",
    "此二维码已使用过": "This code has already been used",
    "此守信卡已挂失作废": "This printed card has been cancelled",
    "未在守信激励名单中": "Not on the credit-incentive list",
    "守信激励资格不在有效期内": "The listing is not in force today",
    "本项优惠不适用": "This benefit does not apply here",
    "本期优惠次数已用完": "The benefit's use limit is reached for this period",
    "请工作人员将本机时间校正为北京时间后重试（时间被调慢会导致过期二维码被误认）。":
        "Staff: set this terminal's clock to the correct Beijing time, then try again.",
    "请工作人员连接网络同步数据，或导入最新数据包。":
        "Staff: connect to the network and sync, or import the latest data bundle.",
    "请在粤省事/粤商通打开“守信激励码”后重新出示。":
        "Open the credit-incentive code in the 粤省事/粤商通 app and show it again.",
    "请刷新守信激励码后重试；仍不能通过请联系发码平台。":
        "Refresh the code and try again; if it still fails, contact the app's support.",
    "请使用粤省事/粤商通中的原始二维码，不要使用截图或翻拍。":
        "Show the original code from the app, not a screenshot or a photo of it.",
    "请核对手机时间后刷新二维码再试。": "Check the phone's clock, refresh the code and try again.",
    "请刷新守信激励码后重新出示。": "Refresh the code in the app and show it again.",
    "动态码只能使用一次，请刷新后重新出示。": "An app code works once: refresh it and show the new one.",
    "请到发卡窗口补办新卡。": "Ask at the issuing office for a new card.",
    "如对名单有异议，可扫描下方二维码提出名单异议。":
        "If you think the list is wrong, scan the code below to file an objection.",
    "如对名单有异议，可凭查询编号向信用主管部门提出名单异议。":
        "If you think the list is wrong, file an objection with the credit office, giving the reference below.",
    "可查看激励措施清单了解您可享受的措施。": "See the measures list for the benefits that apply to you.",
    "可在下一周期再次使用。": "The benefit is available again in the next period.",
    # Holders, benefits and measures.
    "个人": "Person",
    "企业": "Enterprise",
    "优惠{}%": "{}% off",
    "优惠{}%，每次最多减{}": "{}% off, at most {} each time",
    "立减{}": "{} off",
    "本人免票；随行亲属优惠{}%": "Holder free; companions {}% off",
    "本人免票；随行亲属优惠{}%（最多{}人）": "Holder free; companions {}% off (up to {})",
    "免收{}": "Waived: {}",
    "门票单价（元）": "Ticket price (yuan)",
    "免收金额（元）": "Amount waived (yuan)",
    "金额（元）": "Amount (yuan)",
    "今日限{}次": "{} a day",
    "本周限{}次": "{} a week",
    "本月限{}次": "{} a month",
    "本年限{}次": "{} a year",
    "{} 分钟": "{} min",
    "{} 小时 {} 分": "{} h {} min",
    # The scan page's notes and the camera.
    "请先输入图片路径。": "Type the picture's path first.",
    "无法打开图片：{}": "Cannot open the picture: {}",
    "图片中没有找到二维码。": "No QR code was found in the picture.",
    "本站点没有可用的激励措施：请同步数据或联系信用平台。":
        "This site offers no measure: sync the data or call the registry.",
    "核验失败：{}": "Could not verify: {}",
    "未检测到摄像头，可使用扫码枪或打开图片。": "No camera found: use the scanner or open a picture.",
    "本次运行未启用摄像头。": "The camera is off for this run.",
    "摄像头无法打开，可使用扫码枪或打开图片（{}）":
        "The camera could not be opened: use the scanner or open a picture（{}）",
    ("settings", "摄像头已关闭"): "Camera off",
    "正在打开 {}": "Opening {}",
    "使用中： {}": "In use: {}",
    # The OK page's problems.
    "请工作人员先在“工作人员”页签到，再确认。": "A staff member must sign in (Staff page) before confirming.",
    "请先输入金额。": "Enter the amount first.",
    # The amber page.
    "本机时间 {} 早于本机已确认过的时间，时钟可能被调慢或出错。":
        "This terminal's clock says {}, earlier than a time it has already confirmed: the clock may have been set back.",
    "本机数据已 {} 未与信用平台核对，超过本站点允许的 {}。":
        "This terminal last checked its data with the registry {} ago, more than the {} this site allows.",
    "本机还没有同步过名单数据。": "This terminal has not synced any list data yet.",
    # Sync and the staff page.
    "本机只通过数据包同步。": "This terminal syncs by file only.",
    "同步失败：{}（上次成功 {}）": "Sync failed: {} (last success {})",
    "上次同步 {} · 在线": "Last sync {} · online",
    "已请求同步…": "Sync requested…",
    "已作废（作废记录 第{}号）": "Voided (void record No. {})",
    "请输入工号和密码。": "Enter your staff number and PIN.",
    "工号或密码不正确（还可再试 {} 次）。": "Wrong staff number or PIN ({} tries left).",
    "密码错误次数过多，请 {} 分钟后再试。": "Too many wrong PINs: try again in {} min.",
    "只有主管可以作废记录。": "Only a supervisor can void a record.",
    "设置人员": "operator set",
    "删除人员": "operator removed",
    "签到失败": "sign-in failed",
    "已锁定": "locked out",
    "优惠 {} · 应付 {}": "discount {} · paid {}",
    "今日本机（全部工作人员）": "Today at this counter (all staff)",
    "优惠 {} 笔，共减免 {} · 拒绝 {} 笔 · 作废 {} 笔": "{} benefits, {} off in all · {} refused · {} voided",
    # The demo drawer.
    "公交": "Bus",
    "景区": "Scenic",
    "医院": "Hospital",
    "图书馆": "Library",
    ("demo", "拒绝"): "refused",
    "再次出示刚才的动态码": "The app code again (replay)",
    "店员 {} 密码 {} · 主管 {} 密码 {}": "clerk {} PIN {} · supervisor {} PIN {}",
    "正在切换站点…": "Switching site…",
}


def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def main():
    root = pathlib.Path(__file__).resolve().parents[2]
    strings = []
    lit = r'"((?:[^"\\]|\\.)*)"'
    for p in sorted((root / "ui").rglob("*.slint")):
        for m in re.finditer(r"@tr\(\s*" + lit + r"(?:\s*=>\s*" + lit + ")?", p.read_text()):
            key = (m.group(1), m.group(2)) if m.group(2) is not None else m.group(1)
            if key not in strings:
                strings.append(key)
    missing = [s for s in strings if s not in EN]
    if missing:
        raise SystemExit("no English for: " + ", ".join(map(str, missing)))
    unused = [s for s in EN if s not in strings]
    if unused:
        raise SystemExit("English for strings no page has: " + ", ".join(map(str, unused)))
    out = [
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Language: en\\n"',
        "",
    ]
    for s in strings:
        if isinstance(s, tuple):
            out.append(f'msgctxt "{esc(s[0])}"')
            out += [f'msgid "{esc(s[1])}"', f'msgstr "{esc(EN[s])}"', ""]
        else:
            out += [f'msgid "{esc(s)}"', f'msgstr "{esc(EN[s])}"', ""]
    path = pathlib.Path(__file__).resolve().parent / "en" / "LC_MESSAGES" / "xinyi.po"
    path.write_text("\n".join(out), encoding="utf-8")
    print(path, len(strings))


if __name__ == "__main__":
    main()
