"""factory_boy factories for the domain and for staff users."""

from datetime import UTC, date, datetime
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from campaigns.models import Campaign, Entry, Fan, Market
from exports.roles import ensure_default_groups


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True

    # post_generation hooks receive the created model instance as `self`, not the factory.
    @factory.post_generation
    def password(self: Any, create, extracted, **kwargs):
        self.set_password(extracted or "pw-123456")
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            # Transactional tests flush the tables the data migration filled; recreate the roles.
            ensure_default_groups(Group, Permission)
            for group in extracted:
                self.groups.add(group if isinstance(group, Group) else Group.objects.get_or_create(name=group)[0])


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaign {n}")
    artist_name = "The Artists"
    tour_name = "World Tour"
    preferences = factory.LazyFunction(list)

    @factory.post_generation
    def access_groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.access_groups.add(*extracted)


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"Market {n}")
    city = "Chicago"
    state = "IL"
    country = "US"
    event_date = date(2027, 7, 4)
    event_ids = factory.LazyFunction(lambda: ["EV1"])
    venue_name = "United Center"


class FanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fan

    tm_id = factory.Sequence(lambda n: f"tm{n}")
    member_id = factory.Sequence(lambda n: f"m{n}")
    global_user_id = factory.Sequence(lambda n: f"g{n}")
    email = factory.Sequence(lambda n: f"fan{n}@example.com")
    phone = "+15550000000"
    postal_code = "60601"
    first_name = "Fan"
    last_name = "Person"


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entry

    campaign = factory.SubFactory(CampaignFactory)
    fan = factory.SubFactory(FanFactory)
    market = factory.SubFactory(MarketFactory, campaign=factory.SelfAttribute("..campaign"))
    created_at = factory.LazyFunction(lambda: datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))
    locale = "en-us"
