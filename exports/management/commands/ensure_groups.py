from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from exports.roles import DEFAULT_GROUPS, ensure_default_groups


class Command(BaseCommand):
    help = "Create the default staff groups (Campaign Reporter, Export Operator, Privacy Officer)."

    def handle(self, *args, **options):
        ensure_default_groups(Group, Permission)
        self.stdout.write("Groups ready: " + ", ".join(DEFAULT_GROUPS))
