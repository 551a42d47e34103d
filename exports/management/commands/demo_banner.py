from django.core.management.base import BaseCommand

from campaigns.models import Campaign
from exportsite.conf import export_settings


class Command(BaseCommand):
    help = "Print the demo URLs, credentials and a ready curl example."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")

    def handle(self, *args, addr: str, username: str, password: str, **options):
        base = f"http://{addr}"
        campaign = Campaign.objects.filter(access_groups__name="Demo Campaign Staff").order_by("id").first()
        campaign_id = campaign.pk if campaign else 1
        broker = export_settings().broker_url.split("@")[-1] or "in-process (no broker configured)"
        self.stdout.write(f"""
exportsite is starting on {base}
  admin:        {base}/admin/      user {username} / {password}
  API:          {base}/campaigns/{campaign_id}/exports
  health:       {base}/heartbeat   metrics: {base}/metrics
  broker:       {broker}

Try it:
  TOKEN=$(curl -s -X POST {base}/auth/token -H 'Content-Type: application/json' \\
          -d '{{"username":"{username}","password":"{password}"}}' \\
          | python3 -c 'import sys,json;print(json.load(sys.stdin)["access"])')
  curl -s -X POST {base}/campaigns/{campaign_id}/exports -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"exportType":"entries"}}'
  curl -s {base}/campaigns/{campaign_id}/exports -H "Authorization: Bearer $TOKEN"
""")
