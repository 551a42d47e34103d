from django.core.management.base import BaseCommand

from exports.roles import demo_user_ensure


class Command(BaseCommand):
    help = "Create the demo staff user (a Campaign Reporter who can see the demo campaigns)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")
        parser.add_argument("--access-group", default="Demo Campaign Staff")

    def handle(self, *args, username: str, password: str, access_group: str, **options):
        demo_user_ensure(username=username, password=password, groups=("Campaign Reporter", access_group))
        self.stdout.write(f"Demo user ready: {username} / {password}")
