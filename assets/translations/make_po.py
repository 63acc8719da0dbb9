#!/usr/bin/env python3
"""Writes en/LC_MESSAGES/xinyi.po: the English of every @tr("...") string in
ui/*.slint (Chinese is the source language). Run after changing UI text;
a test fails when a string has no English here.

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
}


def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def main():
    root = pathlib.Path(__file__).resolve().parents[2]
    strings = []
    for p in sorted((root / "ui").rglob("*.slint")):
        for m in re.finditer(r'@tr\("((?:[^"\\]|\\.)*)"', p.read_text()):
            if m.group(1) not in strings:
                strings.append(m.group(1))
    missing = [s for s in strings if s not in EN]
    if missing:
        raise SystemExit("no English for: " + ", ".join(missing))
    out = [
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Language: en\\n"',
        "",
    ]
    for s in strings:
        out += [f'msgid "{esc(s)}"', f'msgstr "{esc(EN[s])}"', ""]
    path = pathlib.Path(__file__).resolve().parent / "en" / "LC_MESSAGES" / "xinyi.po"
    path.write_text("\n".join(out), encoding="utf-8")
    print(path, len(strings))


if __name__ == "__main__":
    main()
