import pgtrigger.compiler
from django.db import migrations

# Many-to-many links stay within one property (stayos.triggers.SameProperty, registered on the
# link tables in stayos.apps). Like their audit triggers (0007), they are installed as SQL
# compiled by pgtrigger, since migrations keep no state for the link tables Django creates;
# tests/test_trigger_coverage.py fails if the installed ones drift from the registered ones.
LINK_TABLE_TRIGGERS = [
    # stayos_roomtype_amenities: same_property
    pgtrigger.compiler.Trigger(name='same_property', sql=pgtrigger.compiler.UpsertTriggerSql(func='\n            IF (SELECT property_id FROM stayos_roomtype WHERE id = NEW."roomtype_id")\n                IS DISTINCT FROM\n               (SELECT property_id FROM stayos_amenity\n                WHERE id = NEW."amenity_id") THEN\n                RAISE EXCEPTION USING\n                    ERRCODE = \'check_violation\',\n                    MESSAGE = \'stayos_roomtype_amenities links rows of two properties\',\n                    CONSTRAINT = \'stayos_roomtype_amenities_same_property\';\n            END IF;\n            RETURN NEW;\n            ', hash='18068cd3206bd53d20a0ad9f334a3ab648fdf7ef', operation='INSERT OR UPDATE', pgid='pgtrigger_same_property_26475', table='stayos_roomtype_amenities', when='BEFORE')),
    # stayos_room_amenities: same_property
    pgtrigger.compiler.Trigger(name='same_property', sql=pgtrigger.compiler.UpsertTriggerSql(func='\n            IF (SELECT property_id FROM stayos_room WHERE id = NEW."room_id")\n                IS DISTINCT FROM\n               (SELECT property_id FROM stayos_amenity\n                WHERE id = NEW."amenity_id") THEN\n                RAISE EXCEPTION USING\n                    ERRCODE = \'check_violation\',\n                    MESSAGE = \'stayos_room_amenities links rows of two properties\',\n                    CONSTRAINT = \'stayos_room_amenities_same_property\';\n            END IF;\n            RETURN NEW;\n            ', hash='0c7a5c59ba55e660fa7d9234ff795b02b5e484aa', operation='INSERT OR UPDATE', pgid='pgtrigger_same_property_a101b', table='stayos_room_amenities', when='BEFORE')),
    # stayos_rateplan_room_types: same_property
    pgtrigger.compiler.Trigger(name='same_property', sql=pgtrigger.compiler.UpsertTriggerSql(func='\n            IF (SELECT property_id FROM stayos_rateplan WHERE id = NEW."rateplan_id")\n                IS DISTINCT FROM\n               (SELECT property_id FROM stayos_roomtype\n                WHERE id = NEW."roomtype_id") THEN\n                RAISE EXCEPTION USING\n                    ERRCODE = \'check_violation\',\n                    MESSAGE = \'stayos_rateplan_room_types links rows of two properties\',\n                    CONSTRAINT = \'stayos_rateplan_room_types_same_property\';\n            END IF;\n            RETURN NEW;\n            ', hash='2c193da500413525ddc6d07f65bcadb3e27bc149', operation='INSERT OR UPDATE', pgid='pgtrigger_same_property_d072a', table='stayos_rateplan_room_types', when='BEFORE')),
]


class Migration(migrations.Migration):

    dependencies = [
        ('stayos', '0007_m2m_audit_and_status_event'),
    ]

    operations = [
        migrations.RunSQL(trigger.install_sql, reverse_sql=trigger.uninstall_sql)
        for trigger in LINK_TABLE_TRIGGERS
    ]
