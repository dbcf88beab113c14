SELECT {schema}.any_after($1)
