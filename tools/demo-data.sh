#!/usr/bin/env bash
# demo-data.sh - demo data for a stack started by `./flashsale up`: an admin account and a
# catalogue of products (images in www/img/products/), created through the HTTP API.
#
# Environment (set by stack_demo_data in tools/stack.sh): FLASHSALE_VAR (the stack's state),
# FLASHSALE_PORT (its web server on 127.0.0.1), BUILD (the build tree, for flashsale-admin).
# Idempotent: the admin password is made once and kept in $FLASHSALE_VAR/secrets/admin_password,
# and a product whose title already exists (even soft-deleted) is not created again.
set -euo pipefail

VAR=${FLASHSALE_VAR:?FLASHSALE_VAR is not set}
PORT=${FLASHSALE_PORT:?FLASHSALE_PORT is not set}
BUILD=${BUILD:?BUILD is not set}
URL="http://127.0.0.1:$PORT"
ADMIN_MOBILE=13800000000
SOCK="$VAR/run/mysql.sock"

say() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'demo-data: %s\n' "$*" >&2
	exit 1
}

# POST JSON (argument 2) to a path (argument 1) with an optional token (3); prints the body.
api_post() {
	local auth=()
	[ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
	curl -s --max-time 30 -H 'Content-Type: application/json' "${auth[@]}" -d "$2" "$URL$1"
}

# One field of a JSON envelope on stdin, by a dotted path (e.g. data.accessToken); "" if absent.
json_field() {
	python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}

# Wait for the usercenter and product programs to answer through the web server.
wait_for_api() {
	local d n
	for d in usercenter product; do
		n=100
		until curl -sf -o /dev/null "$URL/$d/v1/healthz"; do
			n=$((n - 1))
			[ $n -gt 0 ] || die "$d is not answering at $URL/$d/v1/healthz"
			sleep 0.1
		done
	done
}

# The admin password, made on first use and kept with the stack's other secrets.
admin_password() {
	local f="$VAR/secrets/admin_password"
	mkdir -p "$VAR/secrets"
	chmod 700 "$VAR/secrets"
	if [ ! -s "$f" ]; then
		(umask 077 && openssl rand -base64 18 | tr -d '/+=\n' | cut -c1-16 >"$f")
	fi
	cat "$f"
}

# Register the admin (once), grant the role, log in; prints the admin token.
admin_token() {
	local password=$1 body code token
	body=$(printf '{"mobile":"%s","password":"%s","nickname":"admin"}' "$ADMIN_MOBILE" "$password")
	code=$(api_post /usercenter/v1/user/register "$body" | json_field code)
	case "$code" in
	200 | 200001) ;;
	*) die "registering the admin failed (code $code)" ;;
	esac
	FLASHSALE_CONF="$VAR/flashsale.conf" "$BUILD/jobs/flashsale-admin" grant-admin "$ADMIN_MOBILE" \
		>/dev/null || die "grant-admin $ADMIN_MOBILE failed"
	token=$(api_post /usercenter/v1/user/login "$body" | json_field data.accessToken)
	[ -n "$token" ] || die "the admin cannot log in: was $VAR/secrets/admin_password replaced?"
	printf '%s\n' "$token"
}

# The id of the product with exactly this title (deleted or not), or nothing.
product_id_by_title() {
	mariadb --socket="$SOCK" -uroot --batch --skip-column-names \
		-e "SELECT MIN(id) FROM flashsale_product.product WHERE title = '${1//\'/\'\'}'" |
		grep -v NULL || true
}

# Create one product unless its title exists; prints its id. Arguments: image name (no .svg),
# title, subtitle, price, market price (fen), stock, info.
product() {
	local image=$1 title=$2 id body
	id=$(product_id_by_title "$title")
	if [ -z "$id" ]; then
		body=$(python3 -c 'import json, sys
a = sys.argv[1:]
print(json.dumps({"title": a[1], "subTitle": a[2], "price": int(a[3]), "marketPrice": int(a[4]),
                  "stock": int(a[5]), "info": a[6], "status": 1,
                  "cover": "/img/products/%s.svg" % a[0], "banner": "/img/products/%s.svg" % a[0]},
                 ensure_ascii=False))' "$@")
		id=$(api_post /product/v1/admin/product/create "$body" "$TOKEN" | json_field data.id)
		[ -n "$id" ] || die "creating product '$title' failed"
		CREATED=$((CREATED + 1))
	fi
	PRODUCT_IDS[$image]=$id
}

wait_for_api
PASSWORD=$(admin_password)
TOKEN=$(admin_token "$PASSWORD")
declare -A PRODUCT_IDS
CREATED=0

product phone "华为 Mate 60 Pro 12GB+512GB 雅川青" "卫星通话 · 麒麟芯片 · 超可靠玄武架构" \
	699900 799900 200 "6.82 英寸 OLED 曲面屏，5000mAh 电池，88W 有线快充。
包装清单：手机 × 1，充电器 × 1，数据线 × 1，保护壳 × 1。"
product laptop "Apple MacBook Air 13 M3 16GB 512GB" "Midnight · 18-hour battery · fanless" \
	1049900 1149900 60 "13.6-inch Liquid Retina display, Apple M3 chip with 8-core CPU and 10-core GPU.
Two Thunderbolt ports, MagSafe charging, 1080p FaceTime HD camera."
product headphones "Sony WH-1000XM5 降噪耳机" "行业领先降噪 · 30 小时续航 · 佩戴轻盈" \
	229900 299900 150 "八麦克风降噪系统，Hi-Res 无线音质，3 分钟快充可听 3 小时。"
product watch "小米手环 8 Pro 夜跃黑" "1.74 英寸 AMOLED 大屏 · 独立五星定位" \
	39900 49900 500 "150+ 运动模式，血氧与心率全天监测，14 天超长续航。"
product camera "Fujifilm X100VI Silver" "40MP X-Trans sensor · in-body stabilisation" \
	1159900 1299900 20 "A fixed 23mm f/2 lens, 20 film simulations and 6.2K video in a pocketable body."
product sneakers "李宁 超轻 21 跑步鞋 男款" "䨻 科技中底 · 轻至 198 克" \
	45900 69900 300 "透气网布鞋面，抗扭转 TPU 片，适合日常慢跑与竞速训练。尺码 39–45。"
product tea "西湖龙井 明前特级 250g" "杭州核心产区 · 手工炒制 · 罐装" \
	68800 98800 120 "2024 年明前采摘，扁平光滑，汤色嫩绿明亮，豆花香持久。
冲泡建议：80°C 水温，玻璃杯下投法。"
product coffee "Lavazza Qualità Oro Coffee Beans 1kg" "100% Arabica · medium roast" \
	16900 21900 400 "Sweet and aromatic, with notes of fruit and flowers. Roasted in Italy."
product backpack "小米 极简都市双肩包 15.6 英寸" "防泼水面料 · 独立电脑仓 · 隐藏口袋" \
	14900 19900 350 "容量 23L，背板透气设计，拉链采用 YKK 品牌，可固定于行李箱拉杆。"
product keyboard "Keychron K8 Pro Wireless Mechanical Keyboard" "Hot-swappable · QMK/VIA · Gateron brown" \
	64900 79900 80 "Tenkeyless layout, Bluetooth 5.1 and USB-C, RGB backlight, Mac and Windows keycaps."
product tshirt "优衣库 U 系列 圆领 T 恤 100% 纯棉" "厚实挺括 · 宽松版型 · 多色可选" \
	7900 9900 1000 "精梳棉面料，领口罗纹不易变形。可机洗，建议反面晾晒。"
product mooncake "广州酒家 双黄白莲蓉月饼礼盒 750g" "中秋限定 · 传统广式 · 6 个装" \
	26800 32800 240 "白莲蓉馅细腻，双黄咸香，礼盒装附手提袋。保质期 45 天，请阴凉干燥处保存。"

say "demo data: ${#PRODUCT_IDS[@]} products ($CREATED new)"
echo "admin: $ADMIN_MOBILE / $PASSWORD"

# ---- seckill demo activity (for the seckill engineer) ----------------------------------
# Create the demo activity here, starting a few minutes after `up`. Available: $URL, $TOKEN
# (an admin token), api_post PATH JSON TOKEN, json_field PATH, and the product ids by image
# name in PRODUCT_IDS (phone laptop headphones watch camera sneakers tea coffee backpack
# keyboard tshirt mooncake), e.g. ${PRODUCT_IDS[phone]}. Keep it idempotent (see product()).

# An activity on a product unless one of its activities is still live (idempotent): $1 image,
# $2 seckill price (fen), $3 units, $4 per-user limit, $5 start offset and $6 length (seconds).
seckill_activity() {
	local pid=${PRODUCT_IDS[$1]} now live id
	now=$(date +%s)
	live=$(mariadb --socket="$SOCK" -uroot --batch --skip-column-names -e \
		"SELECT COUNT(*) FROM flashsale_seckill.activity WHERE product_id = $pid AND status = 0
		 AND end_time > UNIX_TIMESTAMP()")
	[ "$live" = 0 ] || return 0
	id=$(api_post /seckill/v1/admin/activity/create "{\"productId\":$pid,\"seckillPrice\":$2,
		\"stock\":$3,\"perUserLimit\":$4,\"startTime\":$((now + $5)),
		\"endTime\":$((now + $5 + $6))}" "$TOKEN" | json_field data.id)
	[ -n "$id" ] || die "creating the seckill activity on '$1' failed"
	say "seckill activity $id: $3 x $1 at $2 fen, starts in $5 s"
}
# One sale that opens three minutes after `up`, one already running.
seckill_activity phone 99900 20 1 180 3600
seckill_activity headphones 49900 50 2 0 7200
# ---- end of seckill demo activity ------------------------------------------------------

# ---- coupon demo templates ----------------------------------------------------------------
# Unless live ones exist (idempotent): an ordinary 满减 coupon, a 折扣 coupon for the coffee and
# a flash coupon opening two minutes after `up`.
coupons_live=$(mariadb --socket="$SOCK" -uroot --batch --skip-column-names -e \
	"SELECT COUNT(*) FROM flashsale_coupon.template WHERE status = 0" 2>/dev/null || echo 1)
if [ "$coupons_live" = 0 ]; then
	now=$(date +%s)
	api_post /coupon/v1/admin/template/create '{"title":"满300减50","kind":"amount","amount":5000,
		"minSpend":30000,"total":1000,"perUserLimit":2,"validDays":7}' "$TOKEN" >/dev/null
	api_post /coupon/v1/admin/template/create "{\"title\":\"咖啡 8 折\",\"kind\":\"discount\",
		\"percent\":20,\"maxDiscount\":3000,\"minSpend\":0,\"total\":500,\"perUserLimit\":1,
		\"validDays\":3,\"productIds\":[${PRODUCT_IDS[coffee]}]}" "$TOKEN" >/dev/null
	api_post /coupon/v1/admin/template/create "{\"title\":\"秒杀券 满500减100\",\"kind\":\"amount\",
		\"amount\":10000,\"minSpend\":50000,\"total\":100,\"perUserLimit\":1,\"validDays\":1,
		\"flash\":true,\"startTime\":$((now + 120))}" "$TOKEN" >/dev/null
	say "coupon demo: 3 templates (a flash one opens in 2 minutes)"
fi
