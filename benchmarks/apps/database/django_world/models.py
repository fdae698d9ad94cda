"""The tables the runner made, as unmanaged Django models (Django never creates or alters them)."""

from django.db import models

from apps.database import FORTUNE_TABLE, WORLD_TABLE


class World(models.Model):
    randomnumber = models.IntegerField()

    class Meta:
        db_table = WORLD_TABLE
        managed = False


class Fortune(models.Model):
    message = models.CharField(max_length=2048)

    class Meta:
        db_table = FORTUNE_TABLE
        managed = False
